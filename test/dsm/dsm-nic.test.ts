import { describe, expect, it } from 'vitest';
import { DsmRun, runDsmChecked, runDsmCluster, totalStat } from '../../plugins/dsm/dsm-cluster.js';
import { DsmNicSetupHandler } from '../../plugins/dsm/dsm-nic-setup-handler.js';
import { DSM_VMCALL_NIC_SETUP } from '../../plugins/dsm/dsm-nic-abi.js';
import { PtRegs } from '../../core/linux/pt-regs.js';
import { EINVAL } from '../../core/linux/linux-abi.js';
import { RAX, RDI, RSI } from '../../core/vtx/cpu.js';
import type { Kernel } from '../../core/linux/kernel.js';
import type { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import type { DuneModule } from '../../core/dune/dune-module.js';
import type { VmExitInfo } from '../../core/framework/vm-exit-handler.js';

/**
 * The Dune fault path's messaging on a queue of the 82599 driven from guest ring 0: no system
 * call and no VMCALL per message, a page in three frames, the same answers as one node, and the
 * runs that cannot go on still ending with a report that names the page and the node.
 */
const PROFILE = 'dune-e3-1230v2';

function faultlat(pages: number, env: Record<string, string> = {}): DsmRun {
  return runDsmChecked({ profile: PROFILE, program: 'faultlat', args: [String(pages)], nodes: 2, mode: 'dune', manager: 'central', env });
}

describe('dsm on the NIC from ring 0 (Dune)', () => {
  it('sends and receives its messages with no system call and no VM exit per message', () => {
    const few = faultlat(2);
    const many = faultlat(8);
    for (let n = 0; n < 2; n++) {
      // The set-up hypercall, once per node.
      expect(many.nodes[n]!.nicSetups).toBe(1);
      // Six more remote write faults and six more read-backs: the same system calls and VMCALLs
      // (those of start-up and exit), while the frames grow.
      expect(many.nodes[n]!.syscalls).toBe(few.nodes[n]!.syscalls);
      expect(many.nodes[n]!.vmcalls).toBe(few.nodes[n]!.vmcalls);
    }
    // Node 1 per page: the write request and the confirmation (a frame each), and the page it
    // sends back for node 0's read (three frames: a 4,096-byte page at a 1,500-byte MTU).
    const s = (r: DsmRun, n: number) => r.nodes[n]!.stats!;
    expect(s(many, 1).nic_frames_sent - s(few, 1).nic_frames_sent).toBe(6 * (2 + 3));
    expect(s(many, 0).nic_frames_received - s(few, 0).nic_frames_received).toBe(6 * (2 + 3));
    // The contrast: the same Dune process on sockets pays system calls (VMCALLs) per message.
    const fewSock = faultlat(2, { DSM_NET: 'socket' });
    const manySock = faultlat(8, { DSM_NET: 'socket' });
    expect(manySock.nodes[1]!.vmcalls - fewSock.nodes[1]!.vmcalls).toBeGreaterThan(6 * 4);
    expect(manySock.nodes[1]!.stats!.nic_frames_sent).toBe(0);
  });

  it('programs verify against one node on the NIC path, under both managers', () => {
    for (const [program, args, manager] of [['jacobi', ['16', '3'], 'distributed'], ['mergesort', ['8192'], 'central'], ['falseshare', ['100'], 'central']] as const) {
      const r = runDsmChecked({ profile: PROFILE, program, args: [...args], nodes: 2, mode: 'dune', manager });
      expect(r.verified, program).toBe(true);
      expect(totalStat(r, 'nic_frames_sent'), program).toBeGreaterThan(0);
      expect(totalStat(r, 'nic_frames_sent'), program).toBe(totalStat(r, 'nic_frames_received'));
    }
  });

  it('DSM_NET=nic is refused under the Linux fault path', () => {
    const r = runDsmCluster({ profile: PROFILE, program: 'dsmtest', nodes: 2, mode: 'linux', manager: 'central', env: { DSM_NET: 'nic' } });
    expect(r.nodes[0]!.exitStatus).toBe(2);
    expect(r.nodes[0]!.stderr).toContain('DSM_NET=nic: socket, or nic with DSM_MODE=dune');
  });
});

describe('NIC path runs that cannot go on end with a report, not a hang', () => {
  it('a node that crashes while it owes a page: the requester times out naming the page and the node', () => {
    const r = runDsmCluster({
      profile: PROFILE, program: 'faultlat', args: ['4'], nodes: 2, mode: 'dune', manager: 'central',
      env: { DSM_TIMEOUT_MS: '2' }, nodeEnv: { 0: { DSM_TEST_CRASH: '1' } },
    });
    expect(r.nodes[0]!.exitStatus).toBe(9);
    expect(r.nodes[1]!.exitStatus).toBe(3);
    expect(r.nodes[1]!.stderr).toMatch(/dsm: node 1: nothing heard for 2 ms while waiting for ownership of page 0 from node 0/);
  });

  it('lost frames (the wire goes down mid-run): the waiting node times out naming page and node', () => {
    // Node 1 takes 400 remote write faults of about 8 µs each; the wire goes down after 1 ms.
    const r = runDsmCluster({
      profile: PROFILE, program: 'faultlat', args: ['400'], nodes: 2, mode: 'dune', manager: 'central',
      env: { DSM_TIMEOUT_MS: '2' }, cutLinkAtPs: 1e9,
    });
    expect(r.nodes[1]!.exitStatus).toBe(3);
    expect(r.nodes[1]!.stderr).toMatch(/dsm: node 1: (nothing heard for 2 ms while waiting for (ownership|a read copy) of page \d+ from node 0|frame \d of page \d+ from node 0 out of sequence)/);
  });
});

describe('the set-up hypercall', () => {
  function exitFrom(cpl: number, rdi: number, rsi: number): { info: VmExitInfo; regs: PtRegs; skipped: () => boolean } {
    const regs = new PtRegs();
    regs.set(RAX, DSM_VMCALL_NIC_SETUP);
    regs.set(RDI, rdi);
    regs.set(RSI, rsi);
    let skipped = false;
    const info = {
      reason: 18, qualification: 0, guestPhysicalAddress: 0, rip: 0x401000, instructionLength: 3, guestCpl: cpl, regs,
      task: {} as VmExitInfo['task'], cpu: {} as VmExitInfo['cpu'], skipInstruction: () => void (skipped = true),
    } as VmExitInfo;
    return { info, regs, skipped: () => skipped };
  }
  const handler = (): DsmNicSetupHandler => {
    const kernel = { onProcessExit: undefined } as unknown as Kernel;
    return new DsmNicSetupHandler(kernel, {} as Nic82599, 0xf000_0000, [new Uint8Array(6), new Uint8Array(6)], () => ({ vcpus: new Set() }) as unknown as DuneModule);
  };

  it('is not answered from guest ring 3 (the module sees an unknown call)', () => {
    const h = handler();
    const e = exitFrom(3, 0x600000, 0);
    expect(h.handle(e.info)).toBe(false);
    expect(e.skipped()).toBe(false);
    expect(h.setups).toBe(0);
  });

  it('refuses a region that is not page aligned and a node outside the cluster', () => {
    const h = handler();
    for (const [rdi, rsi] of [[0x600010, 0], [0x600000, 2], [0, 0]] as const) {
      const e = exitFrom(0, rdi, rsi);
      expect(h.handle(e.info)).toBe(true);
      expect(e.skipped()).toBe(true);
      expect(e.regs.get(RAX)).toBe(-EINVAL);
    }
  });
});
