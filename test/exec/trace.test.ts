import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { execElf, ExecResult } from '../../core/system/index.js';
import type { TraceEvent } from '../../core/tracer.js';
import { X86_64_SYSCALL_NAMES as SYSCALL_NAMES } from '../../core/linux/syscall-names.js';

/**
 * `exec --trace FILE`: a Chrome Trace Event file (the JSON object format Perfetto and
 * chrome://tracing load). Each CPU's track is its privilege level over time, back to back; each
 * guest task's track holds its system calls and page faults; VM exits are spans named by reason.
 */
const SUM4 = join(ROOT, 'test', 'linux', 'threads', 'bin', 'sum4');
const HELLO = join(ROOT, 'examples', 'guest', 'bin', 'hello');

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'dunesim-trace-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function traced(elf: string, mode: string, cpus: number, file: string): { r: ExecResult; events: TraceEvent[]; text: string } {
  const path = join(dir, file);
  const r = execElf(elf, [], { mode, profile: 'dune-e3-1230v2', memory: 128 << 20, cpus, root: dir, envp: [], trace: path, console: () => {} });
  const text = readFileSync(path, 'utf8');
  const json = JSON.parse(text) as { traceEvents: TraceEvent[]; displayTimeUnit: string };
  expect(json.displayTimeUnit).toBe('ns');
  return { r, events: json.traceEvents, text };
}

describe('exec --trace', () => {
  it('4 threads on 2 CPUs: each CPU a gap-free sequence of states, each thread its system calls', () => {
    const { r, events } = traced(SUM4, 'linux', 2, 'sum4.json');
    expect(r.exitCode).toBe(0);
    for (const cpu of [0, 1]) {
      const spans = events.filter((e) => e.cat === 'cpu' && e.pid === 0 && e.tid === cpu);
      expect(spans.length).toBeGreaterThan(2);
      for (let i = 1; i < spans.length; i++) {
        // Back to back: each state begins where the one before it ended (µs of simulated time).
        expect(spans[i]!.ts).toBeCloseTo(spans[i - 1]!.ts + spans[i - 1]!.dur!, 6);
        expect(spans[i]!.name).not.toBe(spans[i - 1]!.name);
      }
      for (const e of spans) expect(['kernel', 'user', 'idle']).toContain(e.name);
    }
    // CPU 1 waits (idle) until the first clone gives it a thread.
    expect(events.find((e) => e.cat === 'cpu' && e.tid === 1 && e.name === 'idle')).toBeDefined();
    const threads = events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === 1).map((e) => e.tid);
    expect(threads.sort()).toEqual([1, 2, 3, 4, 5]);
    const calls = events.filter((e) => e.cat === 'syscall' && e.ph === 'X');
    for (const c of calls) expect(Object.values(SYSCALL_NAMES)).toContain(c.name);
    // The main thread creates four threads; each of those runs on a CPU the args name.
    expect(calls.filter((c) => c.tid === 1 && c.name === 'clone')).toHaveLength(4);
    const cpusUsed = new Set(calls.map((c) => (c.args as { cpu: number }).cpu));
    expect(cpusUsed).toEqual(new Set([0, 1]));
    expect(events.some((e) => e.cat === 'tlb' && e.name.startsWith('TLB shootdown'))).toBe(r.stats.scheduler && (r.stats.scheduler as Record<string, number>).tlbShootdowns > 0);
  });

  it('is deterministic: the same run writes the same file', () => {
    expect(traced(SUM4, 'linux', 2, 'a.json').text).toBe(traced(SUM4, 'linux', 2, 'b.json').text);
  });

  it('a Dune process: guest ring 0 between VM exits, one span per exit named by its reason', () => {
    const { r, events } = traced(HELLO, 'dune', 1, 'dune.json');
    expect(r.exitCode).toBe(0);
    const names = new Set(events.filter((e) => e.cat === 'cpu').map((e) => e.name));
    expect(names).toContain('guest ring 0');
    const exits = r.stats.vmExits as Record<string, number>;
    expect(exits.EptViolation).toBeGreaterThan(0);
    expect(events.filter((e) => e.cat === 'cpu' && e.name === 'VM exit: EptViolation')).toHaveLength(exits.EptViolation!);
  });

  it('refuses a destination it cannot write before running anything (one line, status 2)', () => {
    const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'exec', '--trace', dir, '--', HELLO], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe(''); // the guest never ran
    expect(res.stderr).toMatch(/^dunesim: --trace .*: is a directory/);
  });
});
