import { describe, it, expect } from 'vitest';
import { PAGE_SIZE, PTE_W } from '../../core/vtx/arch.js';
import { PageTables } from '../../core/vtx/page-tables.js';
import { AddressSpace } from '../../core/linux/address-space.js';
import {
  ECHILD, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, NR, PROT_READ, PROT_WRITE, SA_RESTORER, SIGCHLD, WNOHANG,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { STATUS_AT, SIGACTION_AT, boot, rax, rd64, runAll, writeSigaction, wr64 } from './helpers.js';

const A = 0x3000_0000;

function leaf(mm: AddressSpace, va: number): { frame: number; writable: boolean } {
  const pte = mm.pte(va)!;
  return { frame: PageTables.entryFrame(pte.lo, pte.hi), writable: (pte.lo & PTE_W) !== 0 };
}

describe('Linux model: fork, copy-on-write and wait4', () => {
  it('shares pages copy-on-write: each side sees only its own writes, frames are shared until the first write', () => {
    const { m, k } = boot();
    const before = m.frames.allocated;
    let child = 0;
    let childSaw: bigint[] = [];
    let parentSaw: bigint[] = [];
    let shared: { p: ReturnType<typeof leaf>; c: ReturnType<typeof leaf>; refs: number } | undefined;
    let afterParentWrite: { p: ReturnType<typeof leaf>; c: ReturnType<typeof leaf>; refsP: number; refsC: number } | undefined;
    let childWriteAllocated = -1;
    let waited = { pid: 0, status: -1 };
    let getpidInChild = 0;
    let getppidInChild = 0;
    let parentPid = 0;
    const parent = k.spawn('cow', (c, proc) => {
      parentPid = proc.pid;
      c.op('start', (cpu) => syscall(cpu, NR.mmap, A, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => wr64(cpu, A, 0x1000n));
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
      });
      // Parent.
      c.op(undefined, () => {
        const cm = k.processes.get(child)!.mm;
        shared = { p: leaf(proc.mm, A), c: leaf(cm, A), refs: m.frames.refCount(leaf(proc.mm, A).frame) };
      });
      c.op(undefined, (cpu) => wr64(cpu, A, 0xaaaan));
      c.op(undefined, (cpu) => {
        const v = rd64(cpu, A);
        const cm = k.processes.get(child)!.mm;
        const p = leaf(proc.mm, A);
        const cc = leaf(cm, A);
        afterParentWrite = { p, c: cc, refsP: m.frames.refCount(p.frame), refsC: m.frames.refCount(cc.frame) };
        parentSaw.push(v);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0));
      c.op(undefined, (cpu) => {
        const status = cpu.mmu.read32(STATUS_AT);
        const v = rd64(cpu, A);
        waited = { pid: rax(cpu), status };
        parentSaw.push(v);
        syscall(cpu, NR.exit_group, 0);
      });
      // Child.
      c.op('child', (cpu) => {
        const v = rd64(cpu, A);
        childSaw.push(v);
        syscall(cpu, NR.getpid);
      });
      c.op(undefined, (cpu) => {
        getpidInChild = rax(cpu);
        syscall(cpu, NR.getppid);
      });
      c.op(undefined, (cpu) => {
        getppidInChild = rax(cpu);
        childWriteAllocated = m.frames.allocated;
      });
      c.op(undefined, (cpu) => wr64(cpu, A, 0xccccn)); // last user of the frame: takes it over
      c.op(undefined, (cpu) => {
        const v = rd64(cpu, A);
        childWriteAllocated = m.frames.allocated - childWriteAllocated;
        childSaw.push(v);
        syscall(cpu, NR.exit_group, 3);
      });
      return 'start';
    });
    runAll(k);
    expect(child).toBeGreaterThan(parent.pid);
    expect(getpidInChild).toBe(child);
    expect(getppidInChild).toBe(parentPid);
    // Right after fork: one frame, two read-only mappings, reference count 2.
    expect(shared!.p.frame).toBe(shared!.c.frame);
    expect(shared!.p.writable).toBe(false);
    expect(shared!.c.writable).toBe(false);
    expect(shared!.refs).toBe(2);
    // The parent's write copied the page; the child keeps the original.
    expect(afterParentWrite!.p.frame).not.toBe(afterParentWrite!.c.frame);
    expect(afterParentWrite!.c.frame).toBe(shared!.c.frame);
    expect(afterParentWrite!.p.writable).toBe(true);
    expect(afterParentWrite!.refsP).toBe(1);
    expect(afterParentWrite!.refsC).toBe(1);
    expect(childWriteAllocated).toBe(0);
    expect(parentSaw).toEqual([0xaaaan, 0xaaaan]);
    expect(childSaw).toEqual([0x1000n, 0xccccn]);
    expect(waited).toEqual({ pid: child, status: 3 << 8 });
    // Both processes are gone and every frame (COW copies included) is back.
    expect(m.frames.allocated).toBe(before);
  });

  it('wait4: WNOHANG returns 0 while the child runs, then the pid and exit status, then -ECHILD', () => {
    const { k } = boot();
    const results: number[] = [];
    let child = 0;
    let status = -1;
    k.spawn('waiter', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.wait4, -1, STATUS_AT, WNOHANG, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        results.push(rax(cpu));
        status = s;
        syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0x103)); // only the low 8 bits count
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([0, child, -ECHILD]);
    expect(status).toBe(3 << 8);
  });

  it('wait4 with no children (or for a pid that is not a child) returns -ECHILD at once', () => {
    const { k } = boot();
    const results: number[] = [];
    const other = k.spawn('other', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    k.spawn('lonely', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0));
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.wait4, other.pid, 0, 0, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.wait4, -1, 0, WNOHANG, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([-ECHILD, -ECHILD, -ECHILD]);
  });

  it('wait4 still returns the child when the parent has a SIGCHLD handler (which then runs)', () => {
    const { k } = boot();
    let child = 0;
    let waited = { pid: 0, status: -1 };
    const handled: number[] = [];
    const p = k.spawn('sigchld', (c) => {
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_RESTORER, c.addr('restorer'));
        syscall(cpu, NR.rt_sigaction, SIGCHLD, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        waited = { pid: rax(cpu), status: s };
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.exit_group, 5));
      c.op('handler', (cpu) => {
        handled.push(cpu.reg(7));
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
      return 'start';
    });
    runAll(k);
    expect(waited).toEqual({ pid: child, status: 5 << 8 });
    expect(handled).toEqual([SIGCHLD]);
    expect(p.waitStatus).toBe(0);
  });

  it('wait4(pid) keeps sleeping while another child exits first (an ignored SIGCHLD does not interrupt it)', () => {
    const { k } = boot();
    const kids: number[] = [];
    const results: number[] = [];
    const statuses: number[] = [];
    k.spawn('picky', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('slow'));
        kids.push(rax(cpu));
        syscall(cpu, NR.fork);
      });
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('fast'));
        kids.push(rax(cpu));
        syscall(cpu, NR.wait4, kids[0]!, STATUS_AT, 0, 0); // the slow one
      });
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        results.push(rax(cpu));
        statuses.push(s);
        syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        results.push(rax(cpu));
        statuses.push(s);
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('slow', (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 1));
      c.op('fast', (cpu) => syscall(cpu, NR.exit_group, 2));
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([kids[0], kids[1]]);
    expect(statuses).toEqual([1 << 8, 2 << 8]);
  });

  it('forks from a child too (grandchildren), each reaped by its own parent', () => {
    const { k } = boot();
    const statuses: number[] = [];
    k.spawn('tree', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        statuses.push(cpu.mmu.read32(STATUS_AT));
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('grandchild'));
        syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        statuses.push(s);
        syscall(cpu, NR.exit_group, (s >> 8) + 1);
      });
      c.op('grandchild', (cpu) => syscall(cpu, NR.exit_group, 10));
      return 'start';
    });
    runAll(k);
    expect(statuses).toEqual([10 << 8, 11 << 8]);
  });
});
