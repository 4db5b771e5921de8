/**
 * Wedge's sthreads (plugins/wedge/lib) under the three implementations of one API: the test
 * program's observable behaviour (Wedge, NSDI'08 §3; Dune §5.2), the mechanisms of the Dune
 * implementation (checkpoint copies, recycling by PTE_D), and the baselines run natively.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { WEDGE_BIN } from '../../plugins/wedge/wedge-programs.js';
import { wedge } from './helpers.js';

const canRunNative = process.platform === 'linux' && process.arch === 'x64';

const EXPECTED = [
  'basic: join 0, returned 42',
  'globals: the sthread read 1 and wrote 99; the master reads 1',
  "stack: the next sthread found 0 bytes of the last one's stack data",
  'inbox: the next sthread did not find what the last one read(2) into a global',
  "tag: the sthread read 5 through smalloc'd memory, the master reads 7",
  "tag: after an sthread rewrote the arena's header, smalloc returned NULL",
  "fd: the sthread wrote 5 bytes of its global to its granted fd, the master read 'copy!', its own global is 'master'",
  'syscall: open, read, close granted: read 8 bytes, join 0',
  "pipe: the reader sthread got 4 bytes 'ping' from the writer sthread",
  'callgate: the sthread summed 31 through a gate over a tag it cannot read, join 0',
  '',
].join('\n');

/** pthreads share the address space: the three lines about private globals differ, nothing else. */
const EXPECTED_PTHREAD = EXPECTED
  .replace('the master reads 1', 'the master reads 99')
  .replace('did not find what the last one read(2)', 'found what the last one read(2)')
  .replace("its own global is 'master'", "its own global is 'copy!'");

function stats(err: string): Record<string, number> {
  const line = err.split('\n').find((l) => l.startsWith('impl '))!;
  const words = line.split(' ');
  const r: Record<string, number> = {};
  for (let i = 2; i + 1 < words.length; i += 2) r[words[i]!] = Number(words[i + 1]);
  return r;
}

describe('sthreads', () => {
  it('dune: globals from the checkpoint, private; a recycled sthread finds its stack zeroed; tags, fds, system calls, a pipe and a callgate as granted', () => {
    const r = wedge('wedgetest', ['-v', '--impl', 'dune']);
    expect(r.out).toBe(EXPECTED);
    expect(r.exitCode).toBe(0);
    const s = stats(r.err);
    // Same-policy sthreads reuse a dead one's page table; each recycle zeroed the stack pages
    // ring 3 dirtied and restored the globals' pages it dirtied, found by PTE_D.
    expect(s.recycled).toBeGreaterThanOrEqual(3);
    expect(s.stack_zeroed).toBeGreaterThanOrEqual(s.recycled!);
    expect(s.pages_restored).toBeGreaterThanOrEqual(1);
    expect(s.violations).toBe(0);
    expect(s.cgate_calls).toBe(3);
    // No VM exit for what ring 0 handles itself; the granted calls go through as VMCALLs.
    expect((r.result.stats.vmExits as Record<string, number>).Vmcall).toBeGreaterThan(0);
    // Deterministic: the same run, the same cycles.
    const again = wedge('wedgetest', ['-v', '--impl', 'dune']);
    expect(again.result.stats.cycles).toBe(r.result.stats.cycles);
  });

  it('fork: the same output, from processes', () => {
    const r = wedge('wedgetest', ['--impl', 'fork']);
    expect(r.out).toBe(EXPECTED);
    expect(r.exitCode).toBe(0);
  });

  it('pthread: the same output except that globals are shared', () => {
    const r = wedge('wedgetest', ['--impl', 'pthread']);
    expect(r.out).toBe(EXPECTED_PTHREAD);
    expect(r.exitCode).toBe(0);
  });

  it('an unknown implementation is refused by sthread_init', () => {
    const r = wedge('wedgetest', ['--impl', 'vfork']);
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain('sthread_init failed: -22');
  });

  it.runIf(canRunNative)('natively, the fork and pthread builds print what they print on dunesim; dune finds no /dev/dune', () => {
    for (const [impl, expected] of [['fork', EXPECTED], ['pthread', EXPECTED_PTHREAD]] as const) {
      const n = spawnSync(join(WEDGE_BIN, 'wedgetest'), ['--impl', impl], { encoding: 'utf8', timeout: 20_000 });
      expect(n.stdout).toBe(expected);
      expect(n.status).toBe(0);
    }
    const d = spawnSync(join(WEDGE_BIN, 'wedgetest'), ['--impl', 'dune'], { encoding: 'utf8', timeout: 20_000 });
    expect(d.status).toBe(1);
    expect(d.stderr).toContain('sthread_init failed: -2');
  });
});
