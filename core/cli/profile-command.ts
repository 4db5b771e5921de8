import { injectable, multiInject, optional } from 'inversify';
import { Command } from 'commander';
import { CliCommand } from '../framework/cli-command.js';
import { CostContribution } from '../framework/cost-contribution.js';
import { checkCostContributions } from '../framework/check-cost-contributions.js';
import { checkOutputFile, writeOutputFile } from '../framework/output-path.js';
import { COST_CONSTANTS, CostConstant, DEFAULT_PROFILE, ProfileFile, availableProfiles, loadProfile } from '../vtx/cost-model.js';

/** What `dunesim profile --json` writes: the profile file as loaded, and the plugins' own constants. */
export interface ProfileDocument {
  profile: ProfileFile;
  plugins: Array<{ plugin: string; constants: CostContribution['constants'] }>;
}

/**
 * `dunesim profile [NAME] [--sources] [--json FILE]`: the cost constants a run charges — the
 * profile's (core/vtx/profiles: hardware primitives and Linux kernel paths) and the plugins' own
 * (CostContribution) — each with its value, unit and what it is the cost of; `--sources` adds
 * where each value comes from.
 */
@injectable()
export class ProfileCommand implements CliCommand {
  constructor(@multiInject(CostContribution) @optional() private readonly contributions: readonly CostContribution[] = []) {}

  register(program: Command): void {
    program
      .command('profile')
      .description('list the cost constants of a profile and of the plugins, with their sources')
      .argument('[name]', `the profile (${availableProfiles().join(', ')}) or a path to one`, DEFAULT_PROFILE)
      .option('--sources', 'print where each value comes from')
      .option('--json <file>', 'write the profile and the plugins\' constants as JSON instead of printing them')
      .action((name: string, opts: { sources?: boolean; json?: string }) => {
        const doc = this.document(name);
        if (opts.json !== undefined) {
          checkOutputFile(opts.json, '--json');
          writeOutputFile(opts.json, JSON.stringify(doc, null, 2) + '\n', '--json');
          process.stderr.write(`wrote ${opts.json}\n`);
          return;
        }
        process.stdout.write(renderProfile(doc, opts.sources === true));
      });
  }

  document(name: string): ProfileDocument {
    const profile = loadProfile(name); // a ConfigError (status 2) names what is wrong
    const contributions = this.contributions ?? [];
    checkCostContributions(contributions);
    return { profile, plugins: contributions.map((c) => ({ plugin: c.plugin, constants: c.constants })) };
  }
}

/** The listing for people: one line per constant, its source on the next with `sources`. */
export function renderProfile(doc: ProfileDocument, sources: boolean): string {
  const p = doc.profile;
  const out = [`profile ${p.name}: ${p.cpu}, ${p.clockHz / 1e9} GHz`, `  ${p.description}`, ''];
  const line = (name: string, value: number, unit: string, description: string, source: string): void => {
    out.push(`  ${name.padEnd(26)} ${String(value).padStart(8)} ${unit.padEnd(12)} ${description}`);
    if (sources) out.push(`  ${''.padEnd(26)} ${''.padStart(8)} ${''.padEnd(12)} source: ${source}`);
  };
  out.push('core constants (the profile file):');
  for (const k of Object.keys(COST_CONSTANTS) as CostConstant[]) {
    const c = p.constants[k];
    line(k, c.value, c.unit, COST_CONSTANTS[k], c.source);
  }
  for (const c of doc.plugins) {
    out.push('', `plugin ${c.plugin} (CostContribution; instructions are charged at the profile's instruction cost each):`);
    for (const [k, v] of Object.entries(c.constants)) line(k, v.value, v.unit, v.description, v.source);
  }
  return out.join('\n') + '\n';
}
