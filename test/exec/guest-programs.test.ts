import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/cli/exec-command.js';

/**
 * Differential: each guest program's stdout and exit status under dunesim (as a Linux process and
 * as a Dune process) equal a native run of the same binary on this x86-64 host, and the committed
 * expected output (examples/guest/expected, made by `make expected`).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'examples', 'guest', 'bin');
const EXPECTED = join(ROOT, 'examples', 'guest', 'expected');
const ARGS: Record<string, string[]> = { args: ['one', 'two words', '', '--flag=x'], exitcode: ['42'] };
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

function dunesim(name: string, mode: 'linux' | 'dune'): string {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-root-'));
  try {
    let out = '';
    const dec = new TextDecoder();
    const r = execElf(join(BIN, name), ARGS[name] ?? [], {
      mode, profile: 'dune-e3-1230v2', memory: 512 << 20, root: dir, argv0: name,
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
