import { ConfigError } from '../config-error.js';
import { PAGE_SIZE } from './arch.js';
import { Stats } from '../stats.js';
import { Tracer } from '../tracer.js';
import { MmioBus, PortBus } from './devices/bus.js';
import { CostModel, ProfileFile, loadProfile } from './cost-model.js';
import { Cpu } from './cpu.js';
import { cpuidTable } from './cpuid.js';
import { FrameAllocator } from './frame-allocator.js';
import { LastLevelCache, LlcGeometry, validateLlcGeometry } from './last-level-cache.js';
import { NativeCodeRegistry } from './native-code.js';
import { PhysicalMemory } from './physical-memory.js';

export interface MachineConfig {
  /** Bytes of physical memory (a multiple of 4 KiB, at most 4 GiB). */
  memory: number;
  cpus?: number;
  /** A cost profile name (core/vtx/profiles), a path to one, or a loaded profile. */
  profile?: string | ProfileFile;
  /** MAXPHYADDR; the Dune paper's Xeon E3-1230 v2 has 36. */
  physBits?: number;
  /** Model the paging-structure caches the profile describes (default true). */
  pagingStructureCaches?: boolean;
  /** Cycles a CPU may run past the others before the scheduler switches (determinism is kept). */
  quantum?: number;
  /** The last-level cache proxy's geometry, in place of the profile's (null: none). */
  llc?: LlcGeometry | null;
}

export const MAX_CPUS = 64;

/**
 * A machine: physical memory shared by N CPUs, each with its own cycle clock, MMU and TLB. The
 * scheduler is deterministic: it always advances the runnable CPU with the smallest clock (ties
 * to the lowest index) for at most one quantum past the next clock, so parallel time is modelled
 * in one JS thread and the same inputs give the same cycles.
 */
export class Machine {
  /**
   * Called with every machine as it is built (before any CPU runs): `bench --trace` and
   * `run --trace` switch on the tracer of machines that suites and applications build themselves.
   */
  static readonly observers = new Set<(m: Machine) => void>();

  readonly mem: PhysicalMemory;
  readonly frames: FrameAllocator;
  readonly natives = new NativeCodeRegistry();
  readonly costs: CostModel;
  readonly stats: Stats;
  readonly tracer = new Tracer();
  /** Devices: memory-mapped (physical addresses outside RAM) and on I/O ports. */
  readonly mmio = new MmioBus();
  readonly ports = new PortBus();
  readonly cpus: Cpu[];
  readonly physBits: number;
  readonly quantum: number;
  /** The last-level cache proxy (docs/network.md), when the profile or the configuration has one. */
  readonly llc: LastLevelCache | undefined;
  /** The CPU `run` is executing a slice of now (the one whose code is running), else undefined. */
  running: Cpu | undefined;

  constructor(config: MachineConfig) {
    const n = config.cpus ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > MAX_CPUS) throw new ConfigError(`cpus must be a whole number from 1 to ${MAX_CPUS}, got ${n}`);
    const physBits = config.physBits ?? 36;
    if (!Number.isInteger(physBits) || physBits < 32 || physBits > 52) throw new ConfigError(`physBits must be 32..52, got ${physBits}`);
    if (config.memory > 2 ** physBits) throw new ConfigError(`memory ${config.memory} exceeds the ${physBits}-bit physical address space`);
    // Each CPU declares ~85 counters (MMU, exceptions by vector, VM exits by reason): size the
    // table for the CPU count so every allowed configuration fits.
    this.stats = new Stats(4096 + 256 * n);
    this.quantum = config.quantum ?? 10_000;
    if (!(this.quantum > 0)) throw new ConfigError(`quantum must be positive, got ${config.quantum}`);
    this.physBits = physBits;
    const profile = typeof config.profile === 'object' ? config.profile : loadProfile(config.profile);
    this.costs = new CostModel(profile);
    this.mem = new PhysicalMemory(config.memory);
    this.frames = new FrameAllocator(this.mem);
    this.frames.onRelease = (pa) => this.natives.releaseFrame(pa);
    this.mem.mmio = this.mmio;
    const llc = config.llc === undefined ? profile.llc : config.llc;
    this.llc = llc === null || llc === undefined ? undefined
      : new LastLevelCache(validateLlcGeometry(llc as unknown as Record<string, unknown>, 'machine configuration'), profile.clockHz, this.stats);
    this.tracer.setClock(profile.clockHz);
    const env = {
      mem: this.mem, natives: this.natives, costs: this.costs, stats: this.stats, tracer: this.tracer,
      cpuid: cpuidTable(physBits), physBits, ports: this.ports,
    };
    this.cpus = [];
    const tlb = config.pagingStructureCaches === false ? { ...profile.tlb, psc: undefined } : profile.tlb;
    for (let i = 0; i < n; i++) this.cpus.push(new Cpu(i, env, tlb));
    for (const observe of Machine.observers) observe(this);
  }

  /**
   * The machine is done and nothing will look at its memory again: its RAM goes back to the
   * process's pool for the next machine of the same size (ram-pool.ts). Frames above the
   * allocator's high-water mark were never handed out, so they are still zero.
   */
  release(): void {
    this.mem.release(this.frames.highWater * PAGE_SIZE);
  }

  get profile(): ProfileFile {
    return this.costs.profile;
  }

  // Device events: what devices (a NIC's wire, a timer chip) do at a time of their own, on the
  // machine's clock. Kept sorted by time, ties in the order scheduled; few are pending at once.
  private readonly evAt: number[] = [];
  private readonly evAction: Array<() => void> = [];
  /** Device events fired so far. */
  deviceEvents = 0;

  /**
   * Schedules a device event at clock `at` (cycles). It fires when the slowest running CPU's clock
   * reaches it, before any CPU runs past it (a CPU slice ends there); with every CPU idle, the
   * caller advances to it (`advanceToNextEvent`).
   */
  schedule(at: number, action: () => void): void {
    // 2^53: past it a cycle count is no longer an exact integer (the kernel's CLOCK_HORIZON).
    if (!(at >= 0) || !(at <= 2 ** 53)) throw new RangeError(`device event at ${at} cycles`);
    let i = this.evAt.length;
    while (i > 0 && this.evAt[i - 1]! > at) i--;
    this.evAt.splice(i, 0, at);
    this.evAction.splice(i, 0, action);
    // Scheduled by the code of a running slice (a store to a device register): that slice's end
    // was sized without this event, so it ends here and `run` sizes the next one again. Otherwise
    // the CPU would run past the event, and the device would act late by up to a quantum.
    const r = this.running;
    if (r !== undefined) r.endSlice = true;
  }

  /** The clock of the next device event (Infinity: none). */
  get nextEventAt(): number {
    return this.evAt.length > 0 ? this.evAt[0]! : Infinity;
  }

  /** Fires the device events due at or before `clock`, in time order. */
  private fireEvents(clock: number): void {
    while (this.evAt.length > 0 && this.evAt[0]! <= clock) {
      this.evAt.shift();
      const action = this.evAction.shift()!;
      this.deviceEvents++;
      action();
    }
  }

  /**
   * With every CPU idle: time moves on to the next device event. Idle clocks catch up to it (the
   * machine slept until then), and it fires; an interrupt it raises wakes its CPU. Returns false
   * when no event is pending.
   */
  advanceToNextEvent(): boolean {
    const at = this.nextEventAt;
    if (at === Infinity) return false;
    for (const c of this.cpus) if (c.cycles < at) c.cycles = at;
    this.fireEvents(at);
    return true;
  }

  /** Simulated seconds of a cycle count on this machine's clock. */
  seconds(cycles: number): number {
    return cycles / this.costs.clockHz;
  }

  /**
   * Runs the CPUs until every one is halted or stopped, or `maxCycles` of simulated time pass on
   * the slowest clock. Returns the number of scheduling slices.
   */
  run(maxCycles = Infinity): number {
    const cpus = this.cpus;
    for (const c of cpus) c.stopped = false;
    let slices = 0;
    for (;;) {
      let pick = -1;
      let next = Infinity;
      for (let i = 0; i < cpus.length; i++) {
        const c = cpus[i]!;
        if (c.halted || c.stopped) continue;
        if (pick < 0 || c.cycles < cpus[pick]!.cycles) pick = i;
      }
      if (pick < 0) return slices;
      const cpu = cpus[pick]!;
      if (this.evAt.length > 0 && this.evAt[0]! <= cpu.cycles) {
        // A device event is due at the slowest running clock: it happens first (it may wake or
        // interrupt a CPU, which changes who runs next) — also when that clock has passed
        // maxCycles, so that what a long instruction set in motion (a native that sent many
        // frames) is not left for a later run, behind a caller's clock (a cluster's window).
        this.fireEvents(cpu.cycles);
        continue;
      }
      if (cpu.cycles >= maxCycles) return slices;
      for (let i = 0; i < cpus.length; i++) {
        const c = cpus[i]!;
        if (i !== pick && !c.halted && !c.stopped && c.cycles < next) next = c.cycles;
      }
      // No CPU runs past the next device event.
      const limit = Math.min(maxCycles, next === Infinity ? maxCycles : next + this.quantum, this.nextEventAt);
      cpu.endSlice = false;
      this.running = cpu;
      try {
        cpu.runUntil(limit === Infinity ? Number.MAX_VALUE : limit);
      } finally {
        this.running = undefined;
      }
      slices++;
    }
  }
}
