/** `dunesim run sandbox/compare`: the same binary as a Linux process and in the sandbox. */
import { describe, it, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import { CompareApplication } from '../../plugins/sandbox/compare-application.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { DEFAULT_PROFILE } from '../../core/vtx/cost-model.js';
import { LinuxExecMode, System } from '../../core/system/index.js';

function run(options: Record<string, string>): { exitCode: number; figures: Record<string, number>; out: string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const r = new CompareApplication(new System([new LinuxExecMode()]), new PolicyLoader()).run({ options, profile: DEFAULT_PROFILE, out });
  return { exitCode: r.exitCode, figures: r.figures ?? {}, out: text };
}

describe('run sandbox/compare', () => {
  it("shows the sandboxed program's output and its cost beside Linux's", () => {
    const r = run({ program: 'hello' });
    expect(r.exitCode).toBe(0);
    expect(r.out).toContain('Hello, Dune!');
    expect(r.figures['sandbox.cycles']).toBeGreaterThan(r.figures['linux.cycles']);
    expect(r.figures['sandbox.vmExits']).toBeGreaterThan(0);
    // 2-D walks (guest tables through the EPT) reference more memory than native ones.
    expect(r.figures['sandbox.refsPerWalk']).toBeGreaterThan(r.figures['linux.refsPerWalk']);
  });

  it('runs the program a third way, under a ptrace supervisor with the same policy: stops and cycles', () => {
    const r = run({ program: 'hello' });
    expect(r.figures['ptrace.exitStatus']).toBe(0);
    expect(r.figures['ptrace.cycles']).toBeGreaterThan(r.figures['linux.cycles']);
    // Two stops per call but exit_group's one, and the exec SIGTRAP.
    expect(r.figures['ptrace.stops']).toBe(2 * r.figures['ptrace.intercepted']);
    expect(r.figures['ptrace.denied']).toBe(0);
  });

  it('a fault in the sandboxed program is its exit status (SIGSEGV: 139), as under Linux', () => {
    const r = run({ program: 'segv' });
    expect(r.figures['sandbox.exitStatus']).toBe(139);
    expect(r.exitCode).toBe(139);
  });

  it('refuses an unknown program and conflicting options with a UsageError', () => {
    expect(() => run({ program: 'no-such' })).toThrow(UsageError);
    expect(() => run({ program: 'hello', elf: '/bin/true' })).toThrow(/not both/);
  });
});
