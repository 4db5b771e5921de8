import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { RSP } from '../../core/vtx/cpu.js';
import { pteHasFrame } from '../../core/linux/address-space.js';
import {
  EINVAL, ENOMEM, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, NR, PROT_NONE, PROT_READ, PROT_WRITE,
  SEGV_ACCERR, SEGV_MAPERR, SIGSEGV, STACK_TOP, DEFAULT_STACK_SIZE, MMAP_BASE,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { Caught, addCatcher, boot, installCatcher, rax, rd64, runAll, wr64 } from './helpers.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('Linux model: mmap, munmap, mprotect, brk and demand paging', () => {
  it('maps anonymous memory lazily: fresh pages read zero and only touched pages get frames', () => {
    const { m, k } = boot();
    const before = m.frames.allocated;
    let addr = 0;
    const frames: number[] = [];
    const reads: bigint[] = [];
    let untouchedHadFrame = true;
    let vma: { start: number; end: number; prot: number } | undefined;
    const p = k.spawn('anon', (c, proc) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, 0, 16 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        addr = rax(cpu);
        const v = proc.mm.vmas.find(addr);
        vma = v && { start: v.start, end: v.end, prot: v.prot };
        frames.push(m.frames.allocated);
      });
      c.op(undefined, (cpu) => wr64(cpu, addr, 0x1111n)); // first touch: the page and its page table
      c.op(undefined, () => frames.push(m.frames.allocated));
      c.op(undefined, (cpu) => wr64(cpu, addr + 5 * PAGE_SIZE + 8, 0x5555n));
      c.op(undefined, (cpu) => wr64(cpu, addr + 9 * PAGE_SIZE + 0xff8, 0x9999n));
      c.op(undefined, () => {
        frames.push(m.frames.allocated);
        const pte = proc.mm.pte(addr + 3 * PAGE_SIZE);
        untouchedHadFrame = pte !== undefined && pteHasFrame(pte.lo);
      });
      c.op(undefined, (cpu) => {
        const a = rd64(cpu, addr + 3 * PAGE_SIZE + 0x10); // never touched: zero
        const b = rd64(cpu, addr + 5 * PAGE_SIZE + 8);
        const d = rd64(cpu, addr + 9 * PAGE_SIZE + 0xff8);
        const e = rd64(cpu, addr + 5 * PAGE_SIZE); // the rest of a touched page: zero
        reads.push(a, b, d, e);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(0);
    expect(addr % PAGE_SIZE).toBe(0);
    expect(addr + 16 * PAGE_SIZE).toBeLessThanOrEqual(MMAP_BASE);
    expect(vma).toEqual({ start: addr, end: addr + 16 * PAGE_SIZE, prot: RW });
    // mmap itself allocates nothing; each further page touched costs exactly one frame.
    expect(frames[1]! - frames[0]!).toBeGreaterThanOrEqual(1);
    expect(frames[2]! - frames[1]!).toBe(2);
    expect(untouchedHadFrame).toBe(false);
    expect(reads).toEqual([0n, 0x5555n, 0x9999n, 0n]);
    // exit_mmap gives every frame of the process back (pages, page tables, the code image).
    expect(m.frames.allocated).toBe(before);
  });

  it('allocates nothing at mmap time', () => {
    const { m, k } = boot();
    const counts: number[] = [];
    k.spawn('noalloc', (c) => {
      c.op('start', () => counts.push(m.frames.allocated));
      c.op(undefined, (cpu) => syscall(cpu, NR.mmap, 0, 256 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, () => counts.push(m.frames.allocated));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(counts[1]).toBe(counts[0]);
  });

  it('uses a free page-aligned hint as the address and ignores a hint that overlaps a mapping', () => {
    const { k } = boot();
    const got: number[] = [];
    const HINT = 0x2000_0000;
    k.spawn('hint', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, HINT, 2 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        got.push(rax(cpu));
        syscall(cpu, NR.mmap, HINT + PAGE_SIZE, PAGE_SIZE, RW, ANON, -1, 0);
      });
      c.op(undefined, (cpu) => {
        got.push(rax(cpu));
        syscall(cpu, NR.mmap, 0, 0, RW, ANON, -1, 0); // len 0
      });
      c.op(undefined, (cpu) => {
        got.push(rax(cpu));
        syscall(cpu, NR.mmap, 0, PAGE_SIZE, RW, MAP_ANONYMOUS, -1, 0); // neither PRIVATE nor SHARED
      });
      c.op(undefined, (cpu) => {
        got.push(rax(cpu));
        syscall(cpu, NR.mmap, HINT + 0x10, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0); // unaligned FIXED
      });
      c.op(undefined, (cpu) => {
        got.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(got[0]).toBe(HINT);
    expect(got[1]).toBeGreaterThan(0);
    expect(got[1]! % PAGE_SIZE).toBe(0);
    // The second mapping does not overlap the first.
    expect(got[1]! + PAGE_SIZE <= HINT || got[1]! >= HINT + 2 * PAGE_SIZE).toBe(true);
    expect(got.slice(2)).toEqual([-EINVAL, -EINVAL, -EINVAL]);
  });

  it('MAP_FIXED replaces the pages under it (fresh zero page, neighbours untouched, old frame freed)', () => {
    const { m, k } = boot();
    const A = 0x3000_0000;
    const vals: bigint[] = [];
    const frames: number[] = [];
    let fixed = 0;
    let vmaCount = 0;
    k.spawn('fixed', (c, proc) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, A, 3 * PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => wr64(cpu, A, 0xaaaan));
      c.op(undefined, (cpu) => wr64(cpu, A + PAGE_SIZE, 0xbbbbn));
      c.op(undefined, (cpu) => wr64(cpu, A + 2 * PAGE_SIZE, 0xccccn));
      c.op(undefined, (cpu) => {
        frames.push(m.frames.allocated);
        syscall(cpu, NR.mmap, A + PAGE_SIZE, PAGE_SIZE, PROT_READ, ANON | MAP_FIXED, -1, 0);
      });
      c.op(undefined, (cpu) => {
        fixed = rax(cpu);
        frames.push(m.frames.allocated);
        vmaCount = proc.mm.vmas.list.filter((v) => v.start >= A && v.end <= A + 3 * PAGE_SIZE).length;
      });
      c.op(undefined, (cpu) => {
        const x = rd64(cpu, A);
        const y = rd64(cpu, A + PAGE_SIZE); // the TLB still had the old page: must not be seen
        const z = rd64(cpu, A + 2 * PAGE_SIZE);
        vals.push(x, y, z);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(fixed).toBe(A + PAGE_SIZE);
    expect(vals).toEqual([0xaaaan, 0n, 0xccccn]);
    expect(frames[1]).toBe(frames[0]! - 1);
    expect(vmaCount).toBe(3);
  });

  it('munmap removes the pages: a later access gets SIGSEGV SEGV_MAPERR with si_addr', () => {
    const { m, k } = boot();
    const log: Caught[] = [];
    const A = 0x3000_0000;
    const vals: bigint[] = [];
    const frames: number[] = [];
    const results: number[] = [];
    const p = k.spawn('munmap', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => syscall(cpu, NR.mmap, A, 3 * PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => wr64(cpu, A, 1n));
      c.op(undefined, (cpu) => wr64(cpu, A + PAGE_SIZE, 2n));
      c.op(undefined, (cpu) => wr64(cpu, A + 2 * PAGE_SIZE, 3n));
      c.op(undefined, (cpu) => {
        frames.push(m.frames.allocated);
        syscall(cpu, NR.munmap, A + PAGE_SIZE, PAGE_SIZE);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        frames.push(m.frames.allocated);
      });
      c.op('fault', (cpu) => vals.push(rd64(cpu, A + PAGE_SIZE + 0x123))); // skipped by the handler
      c.op(undefined, (cpu) => {
        const x = rd64(cpu, A);
        const z = rd64(cpu, A + 2 * PAGE_SIZE);
        vals.push(x, z);
        syscall(cpu, NR.munmap, A + 1, PAGE_SIZE);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(0);
    expect(results).toEqual([0, -EINVAL]);
    expect(frames[1]).toBe(frames[0]! - 1);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ signo: SIGSEGV, code: SEGV_MAPERR, addr: A + PAGE_SIZE + 0x123 });
    expect(vals).toEqual([1n, 3n]);
  });

  it('mprotect(PROT_READ): reads keep working, a write gets SIGSEGV SEGV_ACCERR; PROT_WRITE again allows it', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const A = 0x3000_0000;
    const vals: bigint[] = [];
    const results: number[] = [];
    k.spawn('mprotect', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => syscall(cpu, NR.mmap, A, 2 * PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => wr64(cpu, A + 0x18, 0x1234n)); // present, writable and in the TLB
      c.op(undefined, (cpu) => syscall(cpu, NR.mprotect, A, PAGE_SIZE, PROT_READ));
      c.op(undefined, (cpu) => {
        const v = rd64(cpu, A + 0x18);
        results.push(rax(cpu));
        vals.push(v);
      });
      c.op('write', (cpu) => wr64(cpu, A + 0x18, 0xdeadn)); // SIGSEGV, skipped
      c.op(undefined, (cpu) => wr64(cpu, A + PAGE_SIZE, 7n)); // the other page is still writable
      c.op(undefined, (cpu) => syscall(cpu, NR.mprotect, A, PAGE_SIZE, RW));
      c.op(undefined, (cpu) => results.push(rax(cpu)));
      c.op(undefined, (cpu) => wr64(cpu, A + 0x20, 0x4321n));
      c.op(undefined, (cpu) => {
        const a = rd64(cpu, A + 0x18);
        const b = rd64(cpu, A + 0x20);
        vals.push(a, b);
        syscall(cpu, NR.mprotect, 0x5000_0000, PAGE_SIZE, PROT_READ); // nothing mapped there
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.mprotect, A + 1, PAGE_SIZE, PROT_READ);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([0, 0, -ENOMEM, -EINVAL]);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ signo: SIGSEGV, code: SEGV_ACCERR, addr: A + 0x18 });
    expect(vals).toEqual([0x1234n, 0x1234n, 0x4321n]);
  });

  it('PROT_NONE: any access is SEGV_ACCERR, and the contents survive until access is allowed again', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const A = 0x3000_0000;
    const vals: bigint[] = [];
    k.spawn('protnone', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => syscall(cpu, NR.mmap, A, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => wr64(cpu, A + 0x40, 0x77n));
      c.op(undefined, (cpu) => syscall(cpu, NR.mprotect, A, PAGE_SIZE, PROT_NONE));
      c.op(undefined, (cpu) => vals.push(rd64(cpu, A + 0x40))); // read: SIGSEGV
      c.op(undefined, (cpu) => wr64(cpu, A + 0x48, 1n)); // write: SIGSEGV
      c.op(undefined, (cpu) => syscall(cpu, NR.mprotect, A, PAGE_SIZE, PROT_READ));
      c.op(undefined, (cpu) => vals.push(rd64(cpu, A + 0x40)));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(log.map((l) => [l.signo, l.code, l.addr])).toEqual([
      [SIGSEGV, SEGV_ACCERR, A + 0x40],
      [SIGSEGV, SEGV_ACCERR, A + 0x48],
    ]);
    expect(vals).toEqual([0x77n]);
  });

  it('brk grows and shrinks the heap; shrunk pages are gone (SIGSEGV) and their frames freed', () => {
    const { m, k } = boot();
    const log: Caught[] = [];
    const brks: number[] = [];
    const frames: number[] = [];
    const vals: bigint[] = [];
    let base = 0;
    k.spawn('brk', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => syscall(cpu, NR.brk, 0));
      c.op(undefined, (cpu) => {
        base = rax(cpu);
        brks.push(base);
        syscall(cpu, NR.brk, base + 3 * PAGE_SIZE + 100);
      });
      c.op(undefined, (cpu) => brks.push(rax(cpu)));
      c.op(undefined, (cpu) => wr64(cpu, base, 0x10n));
      c.op(undefined, (cpu) => wr64(cpu, base + PAGE_SIZE, 0x11n));
      c.op(undefined, (cpu) => wr64(cpu, base + 2 * PAGE_SIZE, 0x12n));
      c.op(undefined, (cpu) => wr64(cpu, base + 3 * PAGE_SIZE + 8, 0x13n)); // inside the last, partial page
      c.op(undefined, (cpu) => wr64(cpu, base + 4 * PAGE_SIZE + 8, 0x14n)); // beyond the break: SIGSEGV
      c.op(undefined, (cpu) => {
        frames.push(m.frames.allocated);
        syscall(cpu, NR.brk, base + PAGE_SIZE);
      });
      c.op(undefined, (cpu) => {
        const v = rd64(cpu, base);
        brks.push(rax(cpu));
        frames.push(m.frames.allocated);
        vals.push(v);
      });
      c.op(undefined, (cpu) => vals.push(rd64(cpu, base + 2 * PAGE_SIZE))); // freed: SIGSEGV
      c.op(undefined, (cpu) => syscall(cpu, NR.brk, base + 2 * PAGE_SIZE));
      c.op(undefined, (cpu) => {
        const v = rd64(cpu, base + PAGE_SIZE); // grown again: a fresh zero page
        brks.push(rax(cpu));
        vals.push(v);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.brk, base - PAGE_SIZE)); // below start_brk: unchanged
      c.op(undefined, (cpu) => {
        brks.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(brks).toEqual([base, base + 3 * PAGE_SIZE + 100, base + PAGE_SIZE, base + 2 * PAGE_SIZE, base + 2 * PAGE_SIZE]);
    expect(frames[1]).toBe(frames[0]! - 3);
    expect(log.map((l) => [l.code, l.addr])).toEqual([
      [SEGV_MAPERR, base + 4 * PAGE_SIZE + 8],
      [SEGV_MAPERR, base + 2 * PAGE_SIZE],
    ]);
    expect(vals).toEqual([0x10n, 0n]);
  });

  it('grows the stack below its VMA near RSP, and refuses an access far below RSP', () => {
    const { k } = boot();
    const log: Caught[] = [];
    // A 2 MiB stack VMA (the scratch area at STACK_TOP - 1 MiB stays inside); it may grow up to
    // RLIMIT_STACK (8 MiB).
    const stackLow = STACK_TOP - 2 * 1024 * 1024;
    const vals: bigint[] = [];
    let grownStart = 0;
    k.spawn('stack', (c, proc) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => cpu.setReg(RSP, stackLow + 64));
      c.op(undefined, (cpu) => wr64(cpu, stackLow - 8, 0x5an)); // just below the VMA, above RSP - 64K
      c.op(undefined, (cpu) => {
        vals.push(rd64(cpu, stackLow - 8));
        grownStart = proc.mm.vmas.list.find((v) => v.name === '[stack]')!.start;
      });
      c.op(undefined, (cpu) => wr64(cpu, stackLow - 0x8_0000, 1n)); // 512 KiB below RSP: SIGSEGV
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      addCatcher(c, log);
      return 'start';
    }, { stackSize: 2 * 1024 * 1024 });
    runAll(k);
    expect(vals).toEqual([0x5an]);
    expect(grownStart).toBe(stackLow - PAGE_SIZE);
    expect(log.map((l) => [l.code, l.addr])).toEqual([[SEGV_MAPERR, stackLow - 0x8_0000]]);
  });

  it('refuses to grow the stack beyond RLIMIT_STACK (8 MiB), even next to RSP', () => {
    const { k } = boot();
    const limitLow = STACK_TOP - DEFAULT_STACK_SIZE;
    let stackStart = 0;
    const p = k.spawn('stack-limit', (c, proc) => {
      c.op('start', (cpu) => cpu.setReg(RSP, limitLow + 64));
      c.op(undefined, (cpu) => wr64(cpu, limitLow + 8, 1n)); // the VMA's last page: fine
      c.op(undefined, (cpu) => {
        stackStart = proc.mm.vmas.list.find((v) => v.name === '[stack]')!.start;
        cpu.setReg(RSP, limitLow - 64);
      });
      // One page more would make the stack 8 MiB + 4 KiB: SIGSEGV, and with no room for a
      // signal frame on that stack either, the default action kills the process.
      c.op(undefined, (cpu) => wr64(cpu, limitLow - 8, 1n));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(stackStart).toBe(limitLow);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus & 0x7f).toBe(SIGSEGV);
    expect(p.mm.vmas.list.find((v) => v.name === '[stack]')?.start ?? limitLow).toBe(limitLow);
  });
});
