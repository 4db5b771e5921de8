import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf, ExecResult } from '../../core/system/index.js';
import { Machine } from '../../core/vtx/machine.js';
import { installInterpreter } from '../../core/vtx/interp/interpreter.js';
import { Kernel } from '../../core/linux/kernel.js';
import { ElfFile } from '../../core/linux/elf/elf-file.js';
import { NR } from '../../core/linux/linux-abi.js';

/**
 * execve against native execution. Each program runs from a scratch directory holding a copy of
 * its binary: natively with that directory as the cwd, on the model with it as the guest's "/"
 * (and "/" as the cwd), so "./NAME" names the same file both ways. The committed
 * examples/guest/expected/NAME.out is the native output (`make expected`).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'examples', 'guest', 'bin');
const EXPECTED = join(ROOT, 'examples', 'guest', 'expected');
const canRunNative = process.platform === 'linux' && process.arch === 'x64';

function scratch(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-execve-'));
  copyFileSync(join(BIN, name), join(dir, name));
  return dir;
}

function native(name: string): string {
  const dir = scratch(name);
  try {
    const r = spawnSync(join(dir, name), [], { cwd: dir, env: {}, argv0: `./${name}`, encoding: 'utf8' });
    return `${r.stdout}exit=${r.status}\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dunesim(name: string, mode: 'linux' | 'dune', cpus = 1, configure?: (k: Kernel) => void): { out: string; r: ExecResult } {
  const dir = scratch(name);
  try {
    let out = '';
    const dec = new TextDecoder();
    const r = execElf(join(dir, name), [], {
      mode, cpus, profile: 'dune-e3-1230v2', memory: 256 << 20, root: dir, argv0: `./${name}`, envp: [], configure,
      console: (fd, data) => {
        if (fd === 1) out += dec.decode(data);
      },
      report: () => {},
    });
    return { out: `${out}exit=${r.exitCode}\n`, r };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const expected = (name: string): string => readFileSync(join(EXPECTED, `${name}.out`), 'utf8');

describe.runIf(existsSync(join(BIN, 'execchain')))('execve: guest programs against native execution', () => {
  it('execchain natively gives the committed output', () => {
    if (!canRunNative) return;
    expect(native('execchain')).toBe(expected('execchain'));
    expect(native('ptexec')).toBe(expected('ptexec'));
    expect(native('execthreads')).toBe(expected('execthreads'));
  });

  it('execchain as a Linux process: errors with the caller intact, what an exec keeps, five levels of #!', () => {
    const a = dunesim('execchain', 'linux');
    expect(a.out).toBe(expected('execchain'));
    // Same input, same run: cycles and counts repeat.
    const b = dunesim('execchain', 'linux');
    expect(b.r.stats.cycles).toBe(a.r.stats.cycles);
    expect(b.r.stats.instructions).toBe(a.r.stats.instructions);
    expect(b.r.stats.pageFaults).toBe(a.r.stats.pageFaults);
  });

  it('execchain started as a Dune process (the exec leaves Dune)', () => {
    // One line differs, as on real Dune: execveat (322) is past the module's system-call table
    // (DUNE_NUM_SYSCALLS, 312), so the VMCALL'd call is -EINVAL before the kernel sees it. The
    // images execve loads afterwards run as ordinary processes and match native output.
    const want = expected('execchain').replace(
      /execveat of a directory's fd {7}-> -1 EACCES/, "execveat of a directory's fd       -> -1 EINVAL");
    expect(want).not.toBe(expected('execchain'));
    // Each exec from inside Dune frees the caller's vCPU (VMCS, VPID, EPT) on the spot.
    const execs: Array<{ hadVcpu: boolean; freed: number; vcpuAfter: boolean }> = [];
    const r = dunesim('execchain', 'dune', 1, (k) => {
      const dispatch = k.dispatch.bind(k);
      k.dispatch = (cpu, t, nr, regs) => {
        const hadVcpu = t.dune !== undefined;
        const before = k.machine.stats.get('dune.vcpusFreed');
        const res = dispatch(cpu, t, nr, regs);
        if (nr === NR.execve && res === 0) execs.push({ hadVcpu, freed: k.machine.stats.get('dune.vcpusFreed') - before, vcpuAfter: t.dune !== undefined });
        return res;
      };
    });
    expect(r.out).toBe(want);
    expect(execs[0]).toEqual({ hadVcpu: true, freed: 1, vcpuAfter: false });
    const v = r.r.stats.dune as Record<string, number>;
    expect(v.vcpusFreed).toBe(v.vcpusCreated);
  });

  // A thread execs while one thread spins and one sleeps in a futex (de_thread), then vfork and
  // posix_spawn (clone with CLONE_VM | CLONE_VFORK) children exec. With two CPUs the spinner is
  // running on the other CPU when the exec comes: it is killed there and the exec waits for it.
  for (const [mode, cpus] of [['linux', 1], ['linux', 2], ['dune', 1]] as const) {
    it(`execthreads: exec from a threaded process, after vfork and posix_spawn (${mode}, ${cpus} CPU${cpus > 1 ? 's' : ''})`, () => {
      expect(dunesim('execthreads', mode, cpus).out).toBe(expected('execthreads'));
    });
  }

  it('ptexec: a traced exec stops with SIGTRAP, or with PTRACE_EVENT_EXEC under PTRACE_O_TRACEEXEC', () => {
    expect(dunesim('ptexec', 'linux').out).toBe(expected('ptexec'));
    // Forked inside Dune, the tracee stops (SIGSTOP leaves Dune: DUNE_RET_SIGNAL), re-enters,
    // and its exec leaves Dune: the tracer sees what it sees natively.
    expect(dunesim('ptexec', 'dune').out).toBe(expected('ptexec'));
  });
});

describe.runIf(existsSync(join(BIN, 'exitcode')))('execve: the process after an exec', () => {
  /**
   * A kernel with `dir` as its root running `prog` (whose first exec is what is looked at), and
   * the process it started: the pid, the name and the status the wait reports.
   */
  function run(dir: string, prog: string, argv: string[]): { k: Kernel; pid: number; name: string; status: number; faults: number } {
    const m = new Machine({ memory: 64 << 20, profile: 'dune-e3-1230v2' });
    installInterpreter(m);
    const k = new Kernel(m);
    k.root = dir;
    k.console = () => {};
    const p = k.spawnElf(prog, ElfFile.parse(new Uint8Array(readFileSync(join(dir, prog)))), argv, []);
    k.namespaceInit = p;
    const pid = p.pid;
    k.start();
    k.run(5e9);
    return { k, pid, name: p.name, status: p.waitStatus, faults: m.stats.get('linux.pageFaults') };
  }

  it('keeps the pid, takes the script name as comm, and faults the new image in page by page', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-execve-'));
    try {
      copyFileSync(join(BIN, 'exitcode'), join(dir, 'exitcode'));
      copyFileSync(join(BIN, 'execchain'), join(dir, 'execchain'));
      // A script whose interpreter gets "9" as its optional argument: exitcode exits 9.
      writeFileSync(join(dir, 'a-rather-long-script-name.sh'), '#!/exitcode 9\n', { mode: 0o755 });
      const via = run(dir, 'execchain', ['./execchain', 'exec', './a-rather-long-script-name.sh']);
      expect(via.status).toBe(9 << 8);
      expect(via.k.processes.size).toBe(1); // the same process, pid 1, all along
      expect(via.pid).toBe(1);
      expect(via.name).toBe('a-rather-long-s'); // comm: the script's basename, 15 characters
      // The faults the new image took: a run whose exec fails does all the rest.
      const failed = run(dir, 'execchain', ['./execchain', 'exec', './not-there']);
      expect(failed.status).toBe(1 << 8);
      const direct = run(dir, 'exitcode', ['exitcode', '9']);
      expect(direct.status).toBe(9 << 8);
      // The first image is populated when it is loaded, an exec'd one on its faults: the exec'd
      // exitcode takes every fault of a direct run, plus one per image page it touches.
      expect(via.faults - failed.faults).toBeGreaterThan(direct.faults + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an ELF cut inside its segments passes the early checks and dies of SIGSEGV after the point of no return', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-execve-'));
    try {
      copyFileSync(join(BIN, 'execchain'), join(dir, 'execchain'));
      // exitcode's headers are whole, its last PT_LOAD's bytes are not (its bss page cannot be
      // read from the file): Linux finds that while mapping, past the point of no return.
      const whole = readFileSync(join(BIN, 'exitcode'));
      writeFileSync(join(dir, 'cut'), whole.subarray(0, 4200), { mode: 0o755 });
      if (canRunNative) {
        const r = spawnSync(join(dir, 'execchain'), ['exec', './cut', '3'], { cwd: dir, env: {}, argv0: './execchain' });
        expect(r.signal).toBe('SIGSEGV');
      }
      const sim = run(dir, 'execchain', ['./execchain', 'exec', './cut', '3']);
      expect(sim.status).toBe(11); // killed by SIGSEGV, not a -1 return to a caller that is gone
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
