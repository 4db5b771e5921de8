/**
 * Guest sockets on the simulated network (`exec --net sim`): the same program that checks socket
 * semantics against native Linux over host sockets (examples/guest/nettest: errno values for bad
 * input, non-blocking connect and accept, poll, select, epoll with EPOLLET, half close, UDP,
 * a 300 kB blocking transfer) must print the same here, where every segment is the simulated
 * TCP/IP stack's on the machine's loopback, in simulated time — and the same cycles every run.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../../core/system/index.js';
import type { Kernel } from '../../../core/linux/kernel.js';

const BIN = join(fileURLToPath(new URL('../../..', import.meta.url)), 'examples', 'guest', 'bin');
const NETTEST = join(BIN, 'nettest');
const native = existsSync(NETTEST) ? spawnSync(NETTEST, [], { encoding: 'utf8' }) : undefined;

function onSimNet(path: string, args: string[] = [], mode: 'linux' | 'dune' = 'linux') {
  let out = '';
  let err = '';
  let kernel: Kernel | undefined;
  const dec = new TextDecoder();
  const r = execElf(path, args, {
    mode, profile: 'dune-e3-1230v2', memory: 128 << 20, net: 'sim',
    console: (fd, d) => (fd === 1 ? (out += dec.decode(d)) : (err += dec.decode(d))),
    report: (l) => (err += l),
    configure: (k) => (kernel = k),
  });
  return { out, err, exitCode: r.exitCode, cycles: r.stats.cycles as number, kernel: kernel! };
}

describe.runIf(native !== undefined && native.status === 0)('guest sockets on the simulated stack (--net sim)', () => {
  it('nettest prints what it prints natively; its segments crossed the simulated loopback, no host socket was opened', () => {
    const r = onSimNet(NETTEST);
    expect(r.err).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.out).toBe(native!.stdout);
    const c = r.kernel.simNet.stack.counters;
    // Connections opened actively and passively, a refused one answered by a reset, UDP both ways.
    expect(c.Tcp.ActiveOpens).toBeGreaterThanOrEqual(3);
    expect(c.Tcp.PassiveOpens).toBeGreaterThanOrEqual(2);
    expect(c.Tcp.OutRsts).toBeGreaterThanOrEqual(1);
    expect(c.Udp.InDatagrams).toBeGreaterThanOrEqual(3);
    // The 300 kB transfer moved through the stack's buffers, copied from and to user memory.
    expect(c.Work.BytesCopiedFromUser).toBeGreaterThanOrEqual(300_000);
    expect(c.Work.BytesCopiedToUser).toBeGreaterThanOrEqual(300_000);
    expect(r.kernel.hostNet.active).toBe(false);
  });

  it('a Dune process reaches the same sockets through the Dune module: the same output', () => {
    const r = onSimNet(NETTEST, [], 'dune');
    expect(r.err).toBe('');
    expect(r.out).toBe(native!.stdout);
  });

  it('the same run gives the same cycles', () => {
    const a = onSimNet(NETTEST);
    const b = onSimNet(NETTEST);
    expect(a.exitCode).toBe(0);
    expect(b.cycles).toBe(a.cycles);
  });

  it.runIf(existsSync(join(BIN, 'echoserver')))('the epoll echo server, as its own client, echoes every message on 1 and 2 CPUs as it does natively', () => {
    const args = ['0', '2', '64', '4', '20'];
    const want = spawnSync(join(BIN, 'echoserver'), args, { encoding: 'utf8' }).stdout;
    expect(want).toContain('bad echoes 0');
    for (const cpus of [1, 2]) {
      let out = '';
      const r = execElf(join(BIN, 'echoserver'), args, {
        mode: 'linux', profile: 'dune-e3-1230v2', memory: 128 << 20, net: 'sim', cpus,
        console: (fd, d) => { if (fd === 1) out += new TextDecoder().decode(d); },
        report: () => undefined,
      });
      expect(r.exitCode).toBe(0);
      expect(out).toBe(want);
    }
  });

  it.runIf(existsSync(join(BIN, 'netbad')))('bad input to the socket calls gets the errno native Linux gives; sendmsg and recvmsg gather and scatter', () => {
    const want = spawnSync(join(BIN, 'netbad'), [], { encoding: 'utf8' }).stdout;
    expect(want).toContain('bind addrlen 8');
    const r = onSimNet(join(BIN, 'netbad'));
    expect(r.err).toBe('');
    expect(r.out).toBe(want);
  });
});
