/**
 * End to end: the static musl programs of examples/guest run on the interpreter (ring 3, demand
 * paging, system calls through SYSCALL to a native; see mini-linux.ts) and must print exactly
 * what they printed natively (examples/guest/expected). fileio and segv need a file system and
 * signal delivery, which belong to the kernel model, and are not run here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runElf } from './mini-linux.js';

const DIR = new URL('../../examples/guest/', import.meta.url);
const ARGS: Record<string, string[]> = { args: ['one', 'two words', '', '--flag=x'], exitcode: ['42'] };
const PROGRAMS = ['hello', 'hello-pie', 'args', 'exitcode', 'strings', 'doubles', 'qsort', 'sieve', 'crc32', 'matmul', 'malloc'];

describe.runIf(existsSync(new URL('bin/hello', DIR)))('guest programs run to the native output', () => {
  for (const name of PROGRAMS) {
    it(name, () => {
      const bin = new Uint8Array(readFileSync(new URL(`bin/${name}`, DIR)));
      const r = runElf(bin, [name, ...(ARGS[name] ?? [])], ['PATH=/bin', 'DUNESIM_TEST=hello-from-env']);
      const expected = readFileSync(new URL(`expected/${name}.out`, DIR), 'utf8');
      expect(r.stderr).toBe('');
      expect(r.unknownSyscalls).toEqual([]);
      expect(`${r.stdout}exit=${r.exitCode}\n`).toBe(expected);
      expect(r.instructions).toBeGreaterThan(0);
    });
  }
});
