/**
 * The guest programs of examples/guest under `--mode sandbox` with the null policy (validated
 * passthrough, the paper's measurement policy): each prints exactly what it prints natively
 * (examples/guest/expected), although every system call it makes is trapped in guest ring 0,
 * checked, and passed on or done by the runtime.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from './hostile.js';
import { sandboxed } from './run.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';

const EXPECTED = join(ROOT, 'examples', 'guest', 'expected');
const ARGS: Record<string, string[]> = {
  args: ['one', 'two words', '', '--flag=x'], exitcode: ['42'],
  mutex: ['4', '500'], condvar: ['3', '40'], barrier: ['4', '12'], parsum: ['4', '20000'], prodcons: ['300'], mallocstress: ['10', '200'],
};
/**
 * The threaded programs (musl pthreads), on one CPU under the null policy and on two under
 * policies/threads.json (plugins/sandbox/security/threads.md): every thread in ring 3 under the
 * runtime.
 */
const THREADS_POLICY = new PolicyLoader().load(join(ROOT, 'plugins', 'sandbox', 'policies', 'threads.json'));
const THREADED = ['mutex', 'condvar', 'barrier', 'parsum', 'prodcons', 'tls', 'mallocstress'];
/** The four the issue names, then the ones that exercise the memory manager and the file calls. */
const PROGRAMS = ['hello', 'strings', 'qsort', 'sieve', 'malloc', 'fileio', 'hello-pie', 'args', 'exitcode'];

describe.runIf(existsSync(join(BIN, 'hello')))('guest programs under the sandbox (null policy)', () => {
  for (const name of PROGRAMS) {
    it(`${name} prints exactly its expected output`, () => {
      const r = sandboxed(join(BIN, name), { args: ARGS[name], argv0: name });
      expect(`${r.stdout}exit=${r.exitCode}\n`).toBe(readFileSync(join(EXPECTED, `${name}.out`), 'utf8'));
      expect(r.events).toEqual([]);
      const s = r.stats['sandbox'] as { intercepted: number; passedThrough: number; emulated: number; kernelCalls: number; denied: number; rejected: number };
      // Every call the program made was trapped by the runtime, and each was passed on or done there.
      expect(s.intercepted).toBeGreaterThan(0);
      expect(s.passedThrough + s.emulated).toBe(s.intercepted);
      expect(s.denied + s.rejected).toBe(0);
    });
  }

  for (const name of THREADED) {
    for (const cpus of [1, 2]) {
      it(`${name}, --cpus ${cpus}${cpus === 2 ? ', policies/threads.json' : ''}, prints exactly its expected output`, () => {
        const r = sandboxed(join(BIN, name), { args: ARGS[name], argv0: name, cpus, ...(cpus === 2 ? { policy: THREADS_POLICY } : {}) });
        expect(`${r.stdout}exit=${r.exitCode}\n`).toBe(readFileSync(join(EXPECTED, `${name}.out`), 'utf8'));
        expect(r.events).toEqual([]);
      });
    }
  }

  it('segv, whose SIGSEGV handler the sandbox never runs, is contained at its first fault', () => {
    const r = sandboxed(join(BIN, 'segv'), { argv0: 'segv' });
    expect(r.exitCode).toBe(139);
    expect(r.stdout).toBe('');
    expect(r.events).toHaveLength(1);
    expect(r.events[0]!.rule).toBe("read of 0x10 (the program's ELF window): the page is not mapped");
  });
});
