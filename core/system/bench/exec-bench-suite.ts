import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { bootLinux } from '../boot-linux.js';
import { execElf } from '../exec-elf.js';
import { CPU_BOUND_PROGRAMS, GUEST_BIN } from '../guest-programs.js';
import { jitByDefault } from '../../vtx/interp/interpreter.js';

/** Runs of each program, natively and in dunesim: the best of them is the figure. */
const RUNS = 5;

function nativeSeconds(path: string, args: readonly string[]): number {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(path, args, { stdio: 'ignore' });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${path} failed natively (status ${r.status})`);
    best = Math.min(best, dt);
  }
  return best;
}

/**
 * Wall time to build a 512 MiB machine and the Linux model on it, ready to load a program: the
 * first in the process (a new ArrayBuffer, every constructor's first run), and the best of RUNS
 * after it (each released when done, as a finished run releases its machine, so the next one
 * takes its RAM from the pool).
 */
function machineStartMs(profile: string): { first: number; best: number } {
  let first = 0;
  let best = Infinity;
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    const { machine, kernel } = bootLinux({ profile, memory: 512 << 20 });
    const dt = performance.now() - t0;
    kernel.dispose();
    machine.release();
    if (i === 0) first = dt;
    else best = Math.min(best, dt);
  }
  return { first, best };
}

/**
 * `dunesim bench exec`: the interpreter's speed on the CPU-bound guest programs, run natively
 * and in dunesim (`--mode linux`, cycle model on) in the same run. Native times include process
 * start-up (~1 ms), as dunesim's include building the machine; both are the best of RUNS runs.
 * The first dunesim run of each program is reported too (`mips-first-run`): it pays for
 * translating the blocks and for V8 compiling and optimising them, which later runs in the same
 * process reuse (the compiled block functions are shared by every machine).
 */
@injectable()
export class ExecBenchSuite implements BenchSuite {
  readonly id = 'exec';
  /** Its figures are the host's speed: another suite beside it would slow them. */
  readonly exclusive = true;
  readonly description = 'guest instructions per second of the x86 interpreter and slowdown versus native, on the CPU-bound guest programs';
  readonly steps = CPU_BOUND_PROGRAMS.length;

  run(ctx: BenchContext): BenchResult {
    const start = machineStartMs(ctx.profile);
    const rows: BenchRow[] = [];
    let instr = 0;
    let secs = 0;
    let firstSecs = 0;
    let logSlow = 0;
    for (const [name, args] of CPU_BOUND_PROGRAMS) {
      const path = join(GUEST_BIN, name);
      if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
      const native = nativeSeconds(path, args);
      let best = Infinity;
      let first = 0;
      let instructions = 0;
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const r = execElf(path, [...args], { mode: 'linux', profile: ctx.profile, memory: 512 << 20, console: () => {} });
        const dt = (performance.now() - t0) / 1000;
        if (r.exitCode !== 0) throw new Error(`${name} exited with ${r.exitCode} in dunesim`);
        instructions = r.stats.instructions as number;
        if (i === 0) first = dt;
        best = Math.min(best, dt);
      }
      const mips = instructions / best / 1e6;
      rows.push({ id: `mips:${name}`, unit: 'M instr/s', value: mips, counts: { instructions, seconds: best, firstRunSeconds: first } });
      rows.push({ id: `slowdown:${name}`, unit: 'x', value: best / native, counts: { nativeSeconds: native } });
      instr += instructions;
      secs += best;
      firstSecs += first;
      logSlow += Math.log(best / native);
      ctx.progress(name);
    }
    rows.unshift(
      { id: 'mips', unit: 'M instr/s', value: instr / secs / 1e6, note: `all programs, best of ${RUNS} runs each (as native); target ≥ 200` },
      { id: 'mips-first-run', unit: 'M instr/s', value: instr / firstSecs / 1e6, note: 'all programs, the first run of each: translation and V8 compilation included' },
      { id: 'slowdown', unit: 'x', value: Math.exp(logSlow / CPU_BOUND_PROGRAMS.length), note: 'geometric mean' },
      { id: 'machine-start', unit: 'ms', value: start.first, note: 'a 512 MiB machine with the Linux model, the first of the process; target < 50' },
      { id: 'machine-start-warm', unit: 'ms', value: start.best, note: `the same, best of the ${RUNS} after it (RAM from the pool of finished machines)` },
    );
    // Which engine ran the guest: the interpreter alone (--no-jit) or with the block translator.
    return { suite: this.id, profile: ctx.profile, rows, meta: { node: process.version, jit: jitByDefault() } };
  }
}
