/**
 * Sockets backed by real host sockets on loopback (core/linux/net): examples/guest/nettest checks
 * socket semantics from both ends of a connection in one process — errno values (socket(7),
 * tcp(7), ip(7), epoll_ctl(2), poll(2)), non-blocking connect and accept, MSG_PEEK and
 * MSG_DONTWAIT, half close, a refused connect, autobind, a 300 kB blocking transfer. Run natively
 * and on the model, the output must be byte for byte the same, in every mode.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/system/index.js';
import { SandboxLauncher } from '../../plugins/sandbox/sandbox-launcher.js';
import { NULL_POLICY } from '../../plugins/sandbox/sandbox-policy.js';
import { Machine } from '../../core/vtx/machine.js';
import { Kernel } from '../../core/linux/kernel.js';
import { installInterpreter } from '../../core/vtx/interp/interpreter.js';
import { ElfFile } from '../../core/linux/elf/elf-file.js';

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'examples', 'guest', 'bin');
const NETTEST = join(BIN, 'nettest');
const native = spawnSync(NETTEST, [], { encoding: 'utf8' });

function onModel(mode: 'linux' | 'dune' | 'sandbox', path: string, args: string[] = [], netIdleTimeoutMs = 20_000): { out: string; err: string; exitCode: number; stats: Record<string, unknown> } {
  let out = '';
  let err = '';
  const dec = new TextDecoder();
  const r = execElf(path, args, {
    mode, profile: 'dune-e3-1230v2', memory: 256 << 20, netIdleTimeoutMs,
    launcher: mode === 'sandbox' ? new SandboxLauncher(NULL_POLICY) : undefined,
    console: (fd, d) => (fd === 1 ? (out += dec.decode(d)) : (err += dec.decode(d))),
    report: (l) => (err += l),
  });
  return { out, err, exitCode: r.exitCode, stats: r.stats };
}

describe.runIf(existsSync(NETTEST) && native.status === 0)('sockets on the host loopback', () => {
  for (const mode of ['linux', 'dune', 'sandbox'] as const) {
    it(`nettest prints what it prints natively (${mode})`, () => {
      const r = onModel(mode, NETTEST);
      expect(r.err).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.out).toBe(native.stdout);
    });
  }

});

describe('the kernel and the host network', () => {
  it.runIf(existsSync(join(BIN, 'httpd')))('a guest blocked in accept() with no client leaves the machine idle; the run ends when the host stays silent', () => {
    const httpd = join(BIN, 'httpd');
    const t0 = performance.now();
    const r = onModel('linux', httpd, ['0', '/', '1'], 300);
    const wall = performance.now() - t0;
    // Not finished (every task blocked), after about the idle timeout, with no CPU time burnt waiting.
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain('did not finish');
    expect(wall).toBeGreaterThanOrEqual(250);
    expect(r.stats.cycles as number).toBeLessThan(5_000_000);
  });

  it.runIf(existsSync(join(BIN, 'httpd')) && existsSync(join(BIN, 'sieve')))('a server blocked in epoll_wait does not stop another process: sieve runs to its end beside it', () => {
    const httpdPath = join(BIN, 'httpd');
    const sievePath = join(BIN, 'sieve');
    const m = new Machine({ memory: 256 << 20, profile: 'dune-e3-1230v2', cpus: 1 });
    installInterpreter(m);
    const k = new Kernel(m);
    k.root = join(BIN, '..');
    k.netIdleTimeoutMs = 300;
    let out = '';
    k.console = (_fd, d) => (out += new TextDecoder().decode(d));
    const httpd = k.spawnElf('httpd', ElfFile.parse(new Uint8Array(readFileSync(httpdPath))), ['httpd', '0', '/www', '1'], []);
    const sieve = k.spawnElf('sieve', ElfFile.parse(new Uint8Array(readFileSync(sievePath))), ['sieve'], []);
    k.start();
    k.run();
    k.dispose();
    expect(out).toContain('httpd: listening on port');
    expect(sieve.zombie).toBe(true);
    expect((sieve.waitStatus >> 8) & 0xff).toBe(0);
    // The server is still waiting for a client when the host stays silent.
    expect(httpd.zombie).toBe(false);
  });

  it('a timer deadline moves the idle clocks on (poll with a timeout and nothing to wait for)', () => {
    const m = new Machine({ memory: 64 << 20, profile: 'dune-e3-1230v2' });
    installInterpreter(m);
    const k = new Kernel(m);
    let fired = 0;
    const deadline = m.cpus[0]!.cycles + 3_300_000; // 1 ms at 3.3 GHz
    k.addTimer(deadline, () => fired++);
    k.run();
    expect(fired).toBe(1);
    for (const c of m.cpus) expect(c.cycles).toBeGreaterThanOrEqual(deadline);
    k.dispose();
  });
});
