import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';

/**
 * Plugins build on the core's runtime (core/system) and contribution points (core/framework),
 * never on the command line: core/cli only parses arguments and prints. This test fails when a
 * file of a plugin (plugins/, examples/tlb-reach) imports anything under core/cli.
 */
const CLI = join(ROOT, 'core', 'cli');

/** The module specifiers of a TypeScript file: static imports, re-exports and dynamic imports. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|[\s;])(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm)) {
    out.push(m[1] ?? m[2] ?? m[3]!);
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return /\.(ts|mts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

describe('plugins never import core/cli', () => {
  it('finds static, re-exported and dynamic imports', () => {
    expect(importsOf(`import { execElf } from '../../core/cli/exec-command.js';\nexport { x } from './y.js';\nconst m = await import('../z.js');\nimport 'reflect-metadata';\n`))
      .toEqual(['../../core/cli/exec-command.js', './y.js', '../z.js', 'reflect-metadata']);
  });

  it('no file under plugins/ or examples/tlb-reach imports core/cli', () => {
    const files = [...tsFiles(join(ROOT, 'plugins')), ...tsFiles(join(ROOT, 'examples', 'tlb-reach'))];
    expect(files.length).toBeGreaterThan(10);
    const offending: string[] = [];
    for (const f of files) {
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(f), spec);
        if (target === CLI || target.startsWith(CLI + '/')) offending.push(`${relative(ROOT, f)} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
