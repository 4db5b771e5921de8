import { describe, expect, it } from 'vitest';
import { Cluster, describeStall } from '../../../core/cluster/cluster.js';
import { addKernelNode } from '../../../core/cluster/kernel-node.js';
import { Ixgbe } from '../../../core/linux/net/ixgbe.js';
import { Machine } from '../../../core/vtx/machine.js';
import { Kernel } from '../../../core/linux/kernel.js';
import * as R from '../../../core/vtx/devices/nic-registers.js';
import { MICROSOFT_RSS_KEY } from '../../../core/vtx/devices/toeplitz-hash.js';
import { NR } from '../../../core/linux/linux-abi.js';
import { syscall } from '../../../core/linux/user-abi.js';
import { ArgWidth } from '../../../core/linux/syscall-prototypes.js';
import { ModelledHost } from '../../../core/cluster/modelled-host.js';
import { BAR0, Collector, MSIX_BAR, frameBetween, linuxNode, macOf, senderProgram } from './linux-nodes.js';

/** Node 1 sends, node 2 echoes each frame back from its NET_RX softirq (addresses swapped). */
function echoPair(n: number, opts: { propagation?: number; cpusB?: number } = {}) {
  const a = linuxNode('a', 1);
  const b = linuxNode('b', 2, { cpus: opts.cpusB ?? 1 });
  const gotA = new Collector(() => a.k.wakeSleepers());
  a.dev.bind(gotA);
  const echoCpus: number[] = [];
  const gotB = new Collector((dev, f) => {
    echoCpus.push(b.m.running!.index);
    const r = f.slice();
    r.set(f.subarray(6, 12), 0);
    r.set(f.subarray(0, 6), 6);
    dev.transmit(r);
  });
  b.dev.bind(gotB);
  senderProgram(a, 1, 2, n, gotA);
  a.k.start();
  const cluster = new Cluster();
  addKernelNode(cluster, 'a', a.k);
  addKernelNode(cluster, 'b', b.k);
  cluster.connect(a.nic, b.nic, opts.propagation ?? 1e-6);
  return { a, b, gotA, gotB, cluster, echoCpus };
}

describe('the Linux model\'s 82599 driver (ixgbe)', () => {
  it('probes the port: the station address from RAL/RAH, a clear error where no device answers', () => {
    const { dev, m } = linuxNode('a', 0x42);
    expect([...dev.mac]).toEqual([...macOf(0x42)]);
    expect(dev.mtu).toBe(1500);
    expect(m.stats.get('cpu0.mmu.mmioAccesses')).toBeGreaterThan(0); // the registers were reached as uncached loads and stores
    const bare = new Kernel(new Machine({ memory: 16 << 20 }));
    expect(() => Ixgbe.probe(bare, { bar0: BAR0, msixBar: MSIX_BAR })).toThrow(/no 82599 answers at BAR0 0xf0000000 \(RAH\(0\) reads 0xffffffff\)/);
    expect(() => Ixgbe.probe(bare, { bar0: 0x10_0000, msixBar: MSIX_BAR })).toThrow(/is RAM, not device memory/);
  });

  it('programs RSS as ixgbe does: the Microsoft key, RETA over the queues, one MSI-X vector per queue on its CPU', () => {
    const { nic, dev } = linuxNode('a', 1, { cpus: 4 });
    expect(dev.qVectors).toHaveLength(4);
    const regs = nic.regs;
    const key = MICROSOFT_RSS_KEY;
    for (let n = 0; n < 10; n++) expect(regs[R.rssrk(n) >>> 2]).toBe((key[4 * n]! | (key[4 * n + 1]! << 8) | (key[4 * n + 2]! << 16) | (key[4 * n + 3]! << 24)) >>> 0);
    // RETA entry i names queue i mod 4.
    for (let n = 0; n < 32; n++) expect(regs[R.reta(n) >>> 2]).toBe(0x03020100);
    expect(regs[R.MRQC >>> 2]! & R.MRQC_MRQE_MASK).toBe(R.MRQC_MRQE_RSS);
    // Each queue's vector: a distinct CPU vector aimed at the queue's CPU.
    expect(new Set(dev.qVectors.map((q) => q.vector)).size).toBe(4);
    expect(dev.qVectors.map((q) => q.cpu)).toEqual([0, 1, 2, 3]);
    for (const q of dev.qVectors) {
      expect(nic.msix.read(16 * q.index, 4)).toBe((0xfee0_0000 | (q.cpu << 12)) >>> 0);
      expect(nic.msix.read(16 * q.index + 8, 4)).toBe(q.vector);
    }
    expect(regs[R.EIMS >>> 2]).toBe((0xf | R.EICR_LSC) >>> 0); // the queues and the link status change
  });

  it('two Linux machines exchange frames through their drivers; the sender sleeps and the NIC interrupt wakes it', () => {
    const { a, b, gotA, gotB, cluster } = echoPair(20);
    const end = cluster.run();
    expect(end.reason).toBe('quiet');
    expect(gotB.frames).toHaveLength(20);
    expect(gotA.frames).toHaveLength(20);
    for (let i = 0; i < 20; i++) {
      const sent = frameBetween(1, 2, i);
      expect(gotB.frames[i]).toEqual(sent); // in order, byte for byte
      expect([...gotA.frames[i]!.subarray(0, 6)]).toEqual([...macOf(1)]);
    }
    const sa = a.dev.updateStats();
    const sb = b.dev.updateStats();
    expect(sb.rxPackets).toBe(20);
    expect(sb.txPackets).toBe(20);
    expect(sa.rxPackets).toBe(20);
    expect(sa.rxCsumErrors + sb.rxCsumErrors).toBe(0);
    expect([...a.k.processes.values()][0]!.zombie).toBe(true);
    // Interrupts: each side took device interrupts and polled in the softirq.
    expect(b.m.stats.get('linux.deviceIrqs')).toBeGreaterThan(0);
    expect(a.m.stats.get('linux.deviceIrqs')).toBeGreaterThan(0);
    expect(b.m.stats.get('linux.net.napiPolls')).toBeGreaterThanOrEqual(b.m.stats.get('linux.deviceIrqs'));
  });

  it('is deterministic: the same exchange gives the same cycles', () => {
    const run = (): number[] => {
      const { a, b, cluster } = echoPair(8);
      cluster.run();
      return [cluster.windows, ...a.m.cpus.map((c) => c.cycles), ...b.m.cpus.map((c) => c.cycles), a.m.stats.get('linux.deviceIrqs'), b.m.stats.get('linux.deviceIrqs')];
    };
    expect(run()).toEqual(run());
  });

  it('spreads flows over the receiving CPUs by RSS: each frame is handled on the CPU of its queue', () => {
    const { b, gotB, cluster, echoCpus } = echoPair(32, { cpusB: 4 });
    cluster.run();
    expect(gotB.frames).toHaveLength(32);
    const used = new Set(echoCpus);
    expect(used.size).toBe(4);
    // Each CPU took its own queue's interrupts.
    for (let c = 0; c < 4; c++) expect(b.m.stats.get(`cpu${c}.interrupts`)).toBeGreaterThan(0);
  });

  it('a full receive ring with DROP_EN drops and counts as rx_no_dma_resources; without it the packet buffer fills and frames are missed (rx_missed_errors)', () => {
    for (const dropEn of [true, false]) {
      const a = linuxNode('a', 1);
      // b's CPU never polls: its interrupts are taken by nobody (the vector is masked in EIMS).
      const b = linuxNode('b', 2, { rxDescriptors: 16, rxDropEnable: dropEn, rxPacketBuffer: 4 * 1024 });
      b.dev.bind(new Collector());
      const gotA = new Collector(() => a.k.wakeSleepers());
      a.dev.bind(gotA);
      b.nic.regs[R.EIMS >>> 2] = 0; // masked: NAPI never runs, the ring stays full
      a.k.syscalls.addPrivate(1000, 'nettest_send', [ArgWidth.Int], (_c, n) => {
        let s = 0;
        for (let i = 0; i < n; i++) if (a.dev.transmit(frameBetween(1, 2, i))) s++;
        return s;
      });
      a.k.spawn('flood', (c) => {
        c.op('start', (cpu) => syscall(cpu, 1000, 60), 2);
        c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0), 2);
        return 'start';
      });
      a.k.start();
      const cluster = new Cluster();
      addKernelNode(cluster, 'a', a.k);
      addKernelNode(cluster, 'b', b.k);
      cluster.connect(a.nic, b.nic, 1e-6);
      cluster.run();
      const s = b.dev.updateStats();
      expect(s.rxPackets).toBe(0);
      if (dropEn) {
        expect(s.rxNoDmaResources).toBe(60 - 15); // 15 descriptors posted (one stays empty)
        expect(s.rxMissedErrors).toBe(0);
      } else {
        // 15 frames in the ring; the 4 KiB packet buffer holds 34 of the 118-byte frames that
        // wait for descriptors; the rest is missed.
        expect(s.rxNoDmaResources).toBe(0);
        expect(s.rxMissedErrors).toBe(60 - 15 - Math.floor(4096 / 118));
      }
    }
  });

  it('frames that arrive faster than interrupts and NAPI drain a small ring are dropped and counted; the rest are delivered in order', () => {
    const b = linuxNode('b', 2, { rxDescriptors: 16, rxDropEnable: true, itr: 200 }); // IXGBE_20K_ITR: 51.2 µs
    const got = new Collector();
    b.dev.bind(got);
    b.k.start();
    // A sender at line rate: a modelled host's port puts the 200 frames on the wire back to back
    // (the Linux model sends one frame per doorbell, each some microseconds of kernel work apart).
    const cluster = new Cluster();
    addKernelNode(cluster, 'b', b.k);
    const a = new ModelledHost('a', cluster.events, macOf(1), 0x0a00_0001, 24, 1);
    cluster.connectHost(b.nic, a, 1e-6);
    // It starts once b's kernel is up and idle (b's clock is past the cluster's start).
    const start = Math.ceil(Cluster.psAt(b.m, Math.max(...b.m.cpus.map((c) => c.cycles)))) + 10_000_000;
    cluster.events.at(start, () => {
      for (let i = 0; i < 200; i++) a.port.transmit(frameBetween(1, 2, i));
    });
    cluster.run();
    const s = b.dev.updateStats();
    expect(s.rxPackets + s.rxNoDmaResources).toBe(200);
    // The first frame interrupts at once and its poll re-arms the ring; EITR holds the next
    // interrupt 51.2 µs, while the other 199 arrive within 23 µs (113.6 ns apart): the 15
    // posted descriptors take 15 of them, the rest find none.
    expect(s.rxPackets).toBe(1 + 15);
    expect(b.m.stats.get('linux.deviceIrqs')).toBe(2);
    // What was delivered came in order (flow i has source port 1000 + i).
    const ports = got.frames.map((f) => (f[34]! << 8) | f[35]!);
    for (let i = 1; i < ports.length; i++) expect(ports[i]!).toBeGreaterThan(ports[i - 1]!);
  });

  it('a cluster where a task waits for a frame that never comes ends with a report, not a hang or a false "done"', () => {
    const a = linuxNode('a', 1);
    const b = linuxNode('b', 2);
    const gotA = new Collector(() => a.k.wakeSleepers());
    a.dev.bind(gotA);
    b.dev.bind(new Collector()); // b swallows: no echo
    senderProgram(a, 1, 2, 3, gotA);
    a.k.start();
    const cluster = new Cluster();
    addKernelNode(cluster, 'a', a.k);
    addKernelNode(cluster, 'b', b.k);
    cluster.connect(a.nic, b.nic, 1e-6);
    const end = cluster.run();
    expect(end.reason).toBe('stalled');
    expect(end.blocked).toEqual([{ node: 'a', what: 'pid 1 (sender) asleep in nettest_wait' }]);
    expect(describeStall(end)).toMatch(/cluster stalled at .* µs: nothing in flight and no node can move, yet a: pid 1 \(sender\) asleep in nettest_wait/);
    expect(b.dev.updateStats().rxPackets).toBe(3);
  });

  it('link loss: frames on the wire are lost, both drivers see the carrier drop (LSC) and stop sending; the link\'s return wakes the queues', () => {
    const { a, b, gotA, gotB, cluster } = echoPair(10);
    const psOf = (cycles: number): number => Math.round((cycles * 1e12) / a.m.costs.clockHz);
    const start = psOf(a.m.cpus[0]!.cycles);
    cluster.setLink(a.nic, false, start + 1_500_000); // 1.5 µs into the burst
    const down = cluster.run(start + 100_000_000);
    expect(down.reason).toBe('stalled'); // the sender waits for echoes that were lost
    expect(cluster.lost).toBeGreaterThan(0);
    expect(gotB.frames.length).toBeLessThan(10);
    expect(gotA.frames.length).toBeLessThan(10);
    expect(a.dev.carrier).toBe(false);
    expect(b.dev.carrier).toBe(false);
    expect(a.dev.linkChanges).toBe(1);
    // The stack's frames are refused while the carrier is down (the queue is stopped).
    const busy = a.dev.stats.txBusy;
    expect(a.dev.transmit(frameBetween(1, 2, 99))).toBe(false);
    expect(a.dev.stats.txBusy).toBe(busy + 1);
    const ready = gotA.readyCalls;
    cluster.setLink(a.nic, true);
    cluster.run();
    expect(a.dev.carrier).toBe(true);
    expect(b.dev.carrier).toBe(true);
    expect(gotA.readyCalls).toBe(ready + 1); // netif_wake_queue: the stack may send again
    const before = gotB.frames.length;
    expect(a.dev.transmit(frameBetween(1, 2, 42))).toBe(true);
    cluster.run();
    expect(gotB.frames.length).toBe(before + 1);
  });

  it('a frame the NIC found a bad checksum in goes up all the same, counted (hw_csum_rx_error), for the stack to drop', () => {
    const { a, b, gotB, cluster } = echoPair(0);
    const f = frameBetween(1, 2, 0);
    f[14 + 20 + 16] ^= 0xff; // spoil the TCP checksum
    expect(a.dev.transmit(f)).toBe(true);
    cluster.run();
    expect(gotB.frames).toHaveLength(1);
    expect(b.dev.stats.rxCsumErrors).toBe(1);
  });

  it('refuses frames it cannot send: shorter than a header, longer than the MTU', () => {
    const { dev } = linuxNode('a', 1);
    expect(dev.transmit(new Uint8Array(10))).toBe(true);
    expect(dev.transmit(new Uint8Array(1515))).toBe(true);
    expect(dev.stats.txDropped).toBe(2);
    expect(dev.transmit(frameBetween(1, 2, 0))).toBe(true);
    expect(dev.stats.txDropped).toBe(2);
  });
});
