/**
 * Class 7 of the hardening issue: in --mode ptrace the supervisor never runs on the program's CPU
 * and never takes its state from memory or registers the program controls. The machine has a CPU
 * for each (the supervisor pinned to SUPERVISOR_CPU, the program and its children to
 * TRACEE_CPU), and the supervisor's natives run only as the supervisor — elsewhere their stub is
 * UD0, and the program gets SIGILL.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { SUPERVISOR_CPU, TRACEE_CPU } from '../../plugins/sandbox/ptrace-supervisor.js';
import { BIN } from './hostile.js';
import { captured } from './run.js';
import { ATTACKS, verdicts } from './netlim-run.js';

const FORGE = join(ATTACKS, 'netlim-forge');
const SYSCALLS = join(BIN, 'syscalls');
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function ptraced(path: string, args: string[] = []): ReturnType<typeof captured<ReturnType<typeof execPtraced>>> {
  return captured(execPtraced, path, { args });
}

describe.runIf(existsSync(FORGE) && existsSync(SYSCALLS))('the ptrace supervisor, apart from the program', () => {
  it('runs on a machine with a CPU for itself, and supervises as before', () => {
    const r = ptraced(SYSCALLS, ['10']);
    expect(r.result.exitCode).toBe(0);
    expect(r.result.stats['cpus']).toBe(2);
    expect(SUPERVISOR_CPU).not.toBe(TRACEE_CPU);
    const sup = r.result.launcher.supervisor!;
    // 10 getpid calls among the rest, each with its entry and exit stop.
    expect(sup.counts.syscallStops).toBeGreaterThanOrEqual(2 * 10);
    expect(sup.counts.allowed).toBe(sup.counts.intercepted);
  });

  it("the supervisor's instructions forged at their own addresses in the program are UD0: SIGILL, and the supervision goes on", () => {
    const first = ptraced(SYSCALLS, ['1']).result.launcher.supervisor!.stubs;
    expect(first.map((s) => s.label)).toEqual(['main', 'start', 'call', 'result']);
    const args = first.flatMap((s) => [s.addr.toString(16), hex(s.bytes)]);
    const r = ptraced(FORGE, args);
    const sup = r.result.launcher.supervisor!;
    // The same launch lays out the same natives: the forged bytes are the supervisor's own.
    expect(sup.stubs.map((s) => hex(s.bytes))).toEqual(first.map((s) => hex(s.bytes)));
    const v = verdicts(r.stdout);
    expect(v.escaped).toEqual([]);
    expect(v.held).toEqual(first.map((s) => `held stub ${hex(s.bytes)} at 0x${s.addr.toString(16)}: signal 4`));
    expect(r.result.exitCode).toBe(0);
    // Each SIGILL reached the program through a signal-delivery stop of the supervisor.
    expect(sup.counts.signalStops).toBe(4);
    expect(r.messages).toBe('');
  });

  it('the figures stay deterministic with two CPUs: the same run, the same cycles and counts', () => {
    const a = ptraced(SYSCALLS, ['50']).result;
    const b = ptraced(SYSCALLS, ['50']).result;
    expect(b.stats['cycles']).toBe(a.stats['cycles']);
    expect(b.stats['instructions']).toBe(a.stats['instructions']);
    expect(b.stats['ptrace']).toEqual(a.stats['ptrace']);
  });
});
