/**
 * The kernel's user-memory access (copy_to_user, copy_from_user) for a task whose page tables are
 * not the ones loaded on the CPU it is given: a wake-up that completes a sleeper's epoll_wait from
 * another CPU, or a CPU that dropped to the kernel's tables when it went idle (lazy TLB). The
 * copies must reach the task's own memory, as access_process_vm does, and still fail on
 * addresses the task has not mapped or may not write.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { bootLinux } from '../../core/system/boot-linux.js';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { readElfBinary } from '../../core/linux/elf/read-elf-binary.js';
import { RSP } from '../../core/vtx/cpu.js';

const HELLO = join(GUEST_BIN, 'hello');

describe('uaccess for a task whose address space is not loaded', () => {
  it('reads and writes the task\'s memory, not the loaded tables\'; faults still give EFAULT', () => {
    const { machine, kernel } = bootLinux({ profile: 'dune-e3-1230v2', memory: 64 << 20, cpus: 1 });
    const p = kernel.spawnElf(HELLO, readElfBinary(HELLO), [HELLO, 'x'], [], HELLO);
    const t = p.threads[0]!;
    const cpu = machine.cpus[0]!;
    // The CPU as an idle one leaves it: in the kernel, on the kernel's own tables (lazy TLB).
    cpu.cpl = 0;
    cpu.loadCr3(kernel.boot.pt.root);
    const loaded = cpu.cr3;
    expect(kernel.loadedRoot(cpu)).not.toBe(p.mm.cr3);
    // The initial stack: argc, then argv[0] and argv[1] (System V ABI, execve).
    const sp = t.regs.get(RSP);
    const argc = kernel.readUser64(cpu, t, sp);
    expect(argc).toBe(2);
    const word = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(kernel.copyToUser(cpu, t, sp - 64, word)).toBe(true);
    expect(kernel.accessProcessVm(p, sp - 64, 8)).toEqual(word);
    expect(kernel.copyFromUser(cpu, t, sp - 64, 8)).toEqual(word);
    // Nothing is mapped at 4 KiB, and the program's text is not writable.
    expect(kernel.copyFromUser(cpu, t, 0x1000, 8)).toBeUndefined();
    expect(kernel.copyToUser(cpu, t, 0x40_1000, word)).toBe(false);
    expect(cpu.cr3).toBe(loaded);
  });
});
