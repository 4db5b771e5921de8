/**
 * kvserver-ix: kvserver's memcached protocol (the same C source) behind libix on the IX dataplane.
 * Its replies to kvserver's scripted self-test are what kvserver answers natively
 * (examples/guest/expected/kvserver.out), sent here by a modelled client host since an IX
 * dataplane has no loopback; and a client that resets mid-request leaves the dataplane serving.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../core/cluster/cluster.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { IX_BIN } from '../../plugins/ix-dataplane/ix-bench-suite.js';
import { IxNode } from '../../plugins/ix-dataplane/ix-node.js';

const PROFILE = 'dune-e3-1230v2';
const KV_IX = join(IX_BIN, 'kvserver-ix');
const EXPECTED = join(GUEST_BIN, '..', 'expected', 'kvserver.out');
const SERVER = 0x0a00_0001;
const PORT = 11211;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** kvserver.c's self_test() script, byte for byte. */
const SCRIPT =
  'set k1 5 0 5\r\nhello\r\n' + 'get k1\r\n' + 'get k1 nokey k1\r\n' + 'get k1 a b c d e f g h k1\r\n' + 'get nokey\r\n' + 'set k1 7 0 3\r\nbye\r\n' +
  'get k1\r\n' + 'delete k1\r\n' + 'delete k1\r\n' + 'set k2 0 0 3 noreply\r\nabc\r\n' + 'get k2\r\n' +
  'delete k2 noreply\r\n' + 'get k2\r\n' + 'set k3 0 0 0\r\n\r\n' + 'get k3\r\n' + 'set k4 0 0 abc\r\n' +
  'set k4 0 0 -1\r\n' + 'set k4 0 0\r\n' + 'set k4 0 0 3\r\nabcd\r\n' + 'get\r\n' + 'delete\r\n' + 'delete k1 5\r\n' +
  'bogus command\r\n' + '\r\n' + 'set a 0 0 1\nx\r\nget a\nquit\r\n';

class Rig {
  readonly cluster = new Cluster();
  readonly server = new IxNode(this.cluster, 'server', { profile: PROFILE, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: SERVER, port: PORT });
  readonly client = new ModelledHost('client', this.cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), 0x0a00_0002, 24, 2);

  constructor(args: string[]) {
    this.cluster.connectHost(this.server.nic, this.client, 0.5e-6);
    this.proc = this.server.spawn(KV_IX, args);
    this.server.start();
    this.until(() => this.server.setup.threads.length > 0);
  }

  readonly proc;

  until(done: () => boolean, steps = 400, stepPs = 1e8): void {
    for (let i = 0; i < steps && !done(); i++) this.cluster.run(this.cluster.events.now + stepPs);
  }

  /** A connection; what the server sends is appended to `got`, `eof` when it has closed. */
  dial(): { s: TcpSocket; got: () => string; eof: () => boolean } {
    const s = this.client.stack.tcpSocket();
    s.noDelay = true;
    let text = '';
    let eof = false;
    const buf = new Uint8Array(4096);
    s.onWake = () => {
      for (;;) {
        const k = s.recv(buf);
        if (k === 0) eof = true;
        if (k <= 0) break;
        text += dec.decode(buf.subarray(0, k));
      }
    };
    expect(s.connect(SERVER, PORT)).toBe(-EINPROGRESS);
    this.until(() => s.stateName === 'ESTABLISHED');
    expect(s.stateName, this.server.output).toBe('ESTABLISHED');
    return { s, got: () => text, eof: () => eof };
  }

  /** Sends `req` whole and collects the answers until the server closes. */
  session(req: string | Uint8Array): string {
    const c = this.dial();
    const bytes = typeof req === 'string' ? enc.encode(req) : req;
    for (let off = 0; off < bytes.length;) {
      const n = c.s.send(bytes.subarray(off));
      if (n > 0) off += n;
      this.until(() => false, 1, 1e7);
    }
    this.until(c.eof);
    expect(c.eof(), c.got()).toBe(true);
    c.s.close();
    return c.got();
  }
}

describe('kvserver-ix: the memcached protocol on the IX dataplane', () => {
  it('answers kvserver\'s self-test exactly as kvserver does natively, and returns every mbuf', () => {
    const rig = new Rig(['3']);
    let transcript = 'script:|\n' + rig.session(SCRIPT).replaceAll('\r\n', '|\n');
    const long = new Uint8Array(2049).fill(0x67);
    long.set(enc.encode('get '));
    transcript += 'long line:|\n' + rig.session(long).replaceAll('\r\n', '|\n');
    // A client that leaves in the middle of a set's data block: the server just drops it.
    const half = rig.dial();
    expect(half.s.send(enc.encode('set k9 0 0 10\r\nabc'))).toBe(18);
    rig.until(() => false, 5, 1e7);
    half.s.close();
    transcript += 'half set: closed mid-request|\n';
    rig.until(() => rig.proc.zombie, 200, 1e9);
    expect(rig.proc.zombie, rig.server.output).toBe(true);
    expect(rig.proc.waitStatus).toBe(0);
    const expected = readFileSync(EXPECTED, 'utf8').replace(/exit=0\n$/, '');
    expect(transcript + rig.server.output).toBe(expected);
    expect(rig.server.setup.threads[0]!.mbufsHeld).toBe(0);
  }, 60_000);
});
