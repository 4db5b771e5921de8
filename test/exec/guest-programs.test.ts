import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/system/index.js';

/**
 * Differential: each guest program's stdout and exit status under dunesim (as a Linux process and
 * as a Dune process) equal a native run of the same binary on this x86-64 host, and the committed
 * expected output (examples/guest/expected, made by `make expected`).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'examples', 'guest', 'bin');
const EXPECTED = join(ROOT, 'examples', 'guest', 'expected');
/** Arguments as examples/guest/Makefile runs each program for expected/ (threaded ones shrunk). */
const ARGS: Record<string, string[]> = {
  args: ['one', 'two words', '', '--flag=x'], exitcode: ['42'],
  mutex: ['4', '500'], condvar: ['3', '40'], barrier: ['4', '12'], parsum: ['4', '20000'], prodcons: ['300'], mallocstress: ['10', '200'],
  threadbench: ['create-pthread', '10'],
};
/** Threaded (musl pthreads): run on one CPU and on two. */
const THREADED = ['mutex', 'condvar', 'barrier', 'parsum', 'prodcons', 'tls', 'mallocstress', 'threadbench'];
/**
 * Threaded programs that fail as Dune processes on two CPUs today, with the mechanism that is
 * missing; the case is kept, marked failing, so that it shows when the mechanism lands. (None
 * now: mallocstress failed while clones ran outside Dune beside a Dune thread; each thread now
 * enters Dune on its own vCPU.)
 */
const DUNE_SMP_FAILS: Record<string, string> = {};
const PROGRAMS = ['hello', 'hello-pie', 'doubles', 'strings', 'qsort', 'malloc', 'fileio', 'args', 'exitcode', 'segv', 'sieve', 'crc32', 'matmul', 'sigsuspend', 'restart'];
const ENV = { PATH: BIN, DUNESIM_TEST: 'hello-from-env' };
const canRunNative = process.platform === 'linux' && process.arch === 'x64';

function native(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-native-'));
  try {
    const r = spawnSync(join(BIN, name), ARGS[name] ?? [], { cwd: dir, env: ENV, argv0: name, encoding: 'utf8' });
    return `${r.stdout}exit=${r.status}\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dunesim(name: string, mode: 'linux' | 'dune', cpus = 1): string {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-root-'));
  try {
    let out = '';
    const dec = new TextDecoder();
    const r = execElf(join(BIN, name), ARGS[name] ?? [], {
      mode, profile: 'dune-e3-1230v2', memory: 512 << 20, root: dir, argv0: name, cpus,
      envp: Object.entries(ENV).map(([k, v]) => `${k}=${v}`),
      console: (fd, data) => {
        if (fd === 1) out += dec.decode(data);
      },
      report: () => {},
    });
    return `${out}exit=${r.exitCode}\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.runIf(existsSync(join(BIN, 'hello')))('guest programs: dunesim against native execution', () => {
  for (const name of PROGRAMS) {
    it(`${name} as a Linux process`, () => {
      const expected = readFileSync(join(EXPECTED, `${name}.out`), 'utf8');
      if (canRunNative) expect(native(name)).toBe(expected);
      expect(dunesim(name, 'linux')).toBe(expected);
    });
    it(`${name} as a Dune process`, () => {
      const expected = readFileSync(join(EXPECTED, `${name}.out`), 'utf8');
      expect(dunesim(name, 'dune')).toBe(expected);
    });
  }
});

describe.runIf(existsSync(join(BIN, 'mutex')))('threaded guest programs: dunesim against native execution, on 1 and 2 CPUs', () => {
  for (const name of THREADED) {
    it(`${name} natively matches expected/${name}.out`, () => {
      if (!canRunNative) return;
      expect(native(name)).toBe(readFileSync(join(EXPECTED, `${name}.out`), 'utf8'));
    });
    for (const cpus of [1, 2]) {
      it(`${name} as a Linux process, --cpus ${cpus}`, () => {
        expect(dunesim(name, 'linux', cpus)).toBe(readFileSync(join(EXPECTED, `${name}.out`), 'utf8'));
      });
      const fails = cpus > 1 ? DUNE_SMP_FAILS[name] : undefined;
      (fails !== undefined ? it.fails : it)(`${name} as a Dune process, --cpus ${cpus}${fails !== undefined ? ` (fails: ${fails})` : ''}`, () => {
        expect(dunesim(name, 'dune', cpus)).toBe(readFileSync(join(EXPECTED, `${name}.out`), 'utf8'));
      });
    }
  }
});
