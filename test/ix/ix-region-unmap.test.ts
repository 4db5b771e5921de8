import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../core/cluster/cluster.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import * as R from '../../core/vtx/devices/nic-registers.js';
import { IX_BIN } from '../../plugins/ix-dataplane/ix-bench-suite.js';
import { IxNode } from '../../plugins/ix-dataplane/ix-node.js';

const HOSTILE_IX = join(IX_BIN, 'hostile-ix');

/**
 * The NIC reaches the dataplane's region by physical address. A process that gives the region
 * back (munmap, passed through to the host) must not leave the NIC writing into frames the
 * allocator can hand to someone else: the MMU-notifier chain switches the queue off first, as a
 * driver's invalidate_range_start stops DMA before the pages go.
 */
describe('the dataplane region given back while the NIC owns a queue in it', () => {
  it('switches the queue off at the munmap: later frames are dropped, none is written', () => {
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: 'dune-e3-1230v2', mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: 0x0a00_0001, port: 7 });
    const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), 0x0a00_0002, 24, 2);
    cluster.connectHost(server.nic, client, 0.5e-6);
    const proc = server.spawn(HOSTILE_IX, ['unmap']);
    server.start();
    for (let i = 0; i < 200 && !server.output.includes('munmap of the region'); i++) cluster.run(cluster.events.now + 1e8);
    expect(server.output).toMatch(/munmap of the region: 0/);
    const t = server.setup.threads[0]!;
    expect(t.stopped).toBe(true);
    const regs = server.nic.regs;
    expect(regs[R.rxdctl(t.queue) >>> 2]! & R.XDCTL_ENABLE).toBe(0);
    expect(regs[R.rdlen(t.queue) >>> 2]).toBe(0);
    // A peer's frames now find the queue off: the NIC drops them, none is written to memory.
    const placed = server.nic.rx.qprc[t.queue]!;
    const dropped = server.nic.rx.disabledDrops;
    const s = client.stack.tcpSocket();
    expect(s.connect(0x0a00_0001, 7)).toBe(-EINPROGRESS);
    for (let i = 0; i < 20; i++) cluster.run(cluster.events.now + 1e8);
    expect(server.nic.rx.qprc[t.queue]).toBe(placed);
    expect(server.nic.rx.disabledDrops).toBeGreaterThan(dropped);
    for (let i = 0; i < 200 && !proc.zombie; i++) cluster.run(cluster.events.now + 1e9);
    expect(server.output).toContain('unmap: done');
  }, 60_000);
});
