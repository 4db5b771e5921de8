/**
 * The sandbox on the network (Dune §5.1: the sandbox's user-level firewall; issue §3): a static
 * event-based HTTP server in guest ring 3 answers real clients over host loopback TCP, and the
 * `network` rules of a policy decide where a program may bind and connect.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTPD_POLICY, HttpdApplication } from '../../plugins/sandbox/httpd-application.js';
import { PolicyError } from '../../plugins/sandbox/policy-error.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { BIN, ROOT } from './hostile.js';
import { policy, sandboxed } from './run.js';
import { LinuxExecMode, System } from '../../core/system/index.js';

const HTTPD = join(BIN, 'httpd');
const NETTEST = join(BIN, 'nettest');
const have = (cmd: string): boolean => ['/usr/bin/', '/usr/local/bin/', '/usr/sbin/'].some((d) => existsSync(d + cmd));

/** Host commands started when the server says it listens; their output read once they are done. */
class Clients {
  private readonly dir = mkdtempSync(join(tmpdir(), 'dunesim-clients-'));
  private n = 0;

  start(cmd: string): number {
    const i = this.n++;
    spawn('sh', ['-c', `${cmd} > '${this.dir}/${i}.out' 2>&1; echo $? > '${this.dir}/${i}.done'`], { stdio: 'ignore' }).unref();
    return i;
  }

  /** The output of client `i` (waits up to 10 s for it to finish). */
  output(i: number): string {
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let k = 0; k < 200 && !existsSync(`${this.dir}/${i}.done`); k++) Atomics.wait(wait, 0, 0, 50);
    return readFileSync(`${this.dir}/${i}.out`, 'utf8');
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const portOf = (stdout: string): string | undefined => /listening on port (\d+)/.exec(stdout)?.[1];

describe.runIf(existsSync(HTTPD) && have('curl'))('the sandboxed httpd', () => {
  it('serves real curl clients over loopback TCP under the null policy, and exits after N requests', () => {
    const clients = new Clients();
    try {
      let started: number[] = [];
      const r = sandboxed(HTTPD, {
        args: ['0', '/www', '4'],
        root: join(ROOT, 'examples', 'guest'),
        onStdout: (out) => {
          const port = portOf(out);
          if (port === undefined || started.length > 0) return;
          const url = `http://127.0.0.1:${port}`;
          started = [
            clients.start(`curl -s -i ${url}/`),
            clients.start(`curl -s -i ${url}/index.html`),
            clients.start(`curl -s -i ${url}/missing.html`),
            clients.start(`curl -s -i --path-as-is ${url}/../etc/passwd`),
          ];
        },
      });
      expect(r.messages).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('served 4 requests');
      const page = readFileSync(join(ROOT, 'examples', 'guest', 'www', 'index.html'), 'utf8');
      const [root, index, missing, escape] = started.map((i) => clients.output(i));
      for (const ok of [root!, index!]) {
        expect(ok).toMatch(/^HTTP\/1\.[01] 200/);
        expect(ok).toContain(`Content-Length: ${Buffer.byteLength(page)}`);
        expect(ok.endsWith(page)).toBe(true);
      }
      expect(missing).toMatch(/^HTTP\/1\.[01] 404/);
      expect(escape).toMatch(/^HTTP\/1\.[01] 403/);
      // Every system call of the server went through the runtime; the socket calls among them.
      const sb = r.stats.sandbox as { intercepted: number; denied: number; rejected: number };
      expect(sb.denied + sb.rejected).toBe(0);
      expect(sb.intercepted).toBeGreaterThan(4 * 8);
    } finally {
      clients.dispose();
    }
  });
});

describe.runIf(existsSync(HTTPD) && have('curl'))('sandbox/httpd: the server under its own policy, both ways', () => {
  for (const way of ['sandbox', 'ptrace'] as const) {
    it(`serves under policies/httpd.json (--way ${way}); its blocking epoll_pwait and accept4 complete`, () => {
      const clients = new Clients();
      try {
        let text = '';
        let started: number[] = [];
        const chunks: string[] = [];
        const out = { write: (d: string | Uint8Array): boolean => (chunks.push(typeof d === 'string' ? d : new TextDecoder().decode(d)), true) };
        const app = new HttpdApplication(new System([new LinuxExecMode()]), new PolicyLoader());
        const origWrite = out.write;
        out.write = (d) => {
          origWrite(d);
          text = chunks.join('');
          const port = portOf(text);
          if (port !== undefined && started.length === 0) {
            started = [clients.start(`curl -s -i http://127.0.0.1:${port}/`), clients.start(`curl -s -i http://127.0.0.1:${port}/index.html`)];
          }
          return true;
        };
        const r = app.run({ options: { port: '0', requests: '2', way }, profile: 'dune-e3-1230v2', out: out as unknown as NodeJS.WritableStream });
        expect(r.exitCode).toBe(0);
        expect(chunks.join('')).toContain('served 2 requests');
        for (const i of started) expect(clients.output(i)).toMatch(/^HTTP\/1\.[01] 200/);
        if (way === 'sandbox') expect(r.figures!['vmExits']).toBeGreaterThan(0);
      } finally {
        clients.dispose();
      }
    });
  }

  it('refuses a port below 1024 under policies/httpd.json (network.bind allows 1024-65535)', () => {
    const r = sandboxed(HTTPD, { args: ['80', '/', '1'], root: join(ROOT, 'examples', 'guest', 'www'), policy: new PolicyLoader().load(HTTPD_POLICY) });
    expect(r.exitCode).toBe(1);
    expect(r.messages).toMatch(/sandbox: denied bind\(\d+, \{0\.0\.0\.0:80\}, 16\): no network\.bind rule covers 0\.0\.0\.0:80 → -EACCES/);
  });
});

describe.runIf(existsSync(NETTEST))('the firewall (network rules)', () => {
  it('refuses a connect no rule allows (-EPERM), and says which rule', () => {
    const r = sandboxed(NETTEST, { args: ['200'], netIdleTimeoutMs: 1000, policy: policy({ network: { bind: [{ address: '127.0.0.1' }] } }) });
    expect(r.stdout).toContain('connect (nonblocking)              -1 Operation not permitted');
    expect(r.stdout).toContain('connect to a closed port           -1 Operation not permitted');
    expect(r.messages).toMatch(/sandbox: denied connect\(\d+, \{127\.0\.0\.1:\d+\}, 16\): network\.connect allows nothing → -EPERM/);
    // Binds were allowed: the listener got its port.
    expect(r.stdout).toContain('bind 127.0.0.1:0                   0');
    // A UDP destination is judged by the same rules.
    expect(r.stdout).toContain('sendto 4 (autobind)                -1 Operation not permitted');
    expect(r.messages).toMatch(/sandbox: denied sendto\(\d+, 0x[0-9a-f]+, 4, 0, \{127\.0\.0\.1:\d+\}, 16\): network\.connect allows nothing → -EPERM/);
  });

  it('refuses a bind outside the allowed addresses (-EACCES) and lets allowed connects through', () => {
    const r = sandboxed(NETTEST, { args: ['200'], netIdleTimeoutMs: 1000,
      policy: policy({ network: { bind: [{ address: '10.0.0.0/8', ports: 'any' }], connect: [{ address: '127.0.0.0/8', ports: ['1-1023', '1024-65535'] }] } }),
    });
    expect(r.stdout).toContain('bind 127.0.0.1:0                   -1 Permission denied');
    expect(r.messages).toMatch(/sandbox: denied bind\(\d+, \{127\.0\.0\.1:0\}, 16\): no network\.bind rule covers 127\.0\.0\.1:0 → -EACCES/);
  });

  it('judges ports: a connect rule for other ports does not cover this one', () => {
    const r = sandboxed(NETTEST, { args: ['200'], netIdleTimeoutMs: 1000, policy: policy({ network: { bind: [{ address: 'any' }], connect: [{ address: '127.0.0.1', ports: 1 }] } }) });
    expect(r.messages).toMatch(/no network\.connect rule covers 127\.0\.0\.1:\d+ → -EPERM/);
  });

  it('refuses a broken network policy, naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ network: [] }, /network: must be an object/],
      [{ network: { listen: [] } }, /network\.listen: unknown field/],
      [{ network: { bind: [{ address: '300.0.0.1' }] } }, /network\.bind\[0\]\.address: must be/],
      [{ network: { connect: [{ address: '127.0.0.1/33' }] } }, /network\.connect\[0\]\.address/],
      [{ network: { connect: [{ address: 'any', ports: '9-1' }] } }, /network\.connect\[0\]\.ports: must be/],
      [{ network: { connect: [{ address: 'any', ports: 70000 }] } }, /network\.connect\[0\]\.ports/],
      [{ network: { connect: [{ host: 'x' }] } }, /network\.connect\[0\]\.host: unknown field/],
    ];
    for (const [json, re] of bad) {
      expect(() => policy(json)).toThrow(PolicyError);
      expect(() => policy(json)).toThrow(re);
    }
  });
});
