import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * examples/guest/httpd run natively on this x86-64 Linux host, driven with Node's http client: the
 * reference behaviour for running the same binary under dunesim (as a Linux process and inside the
 * Dune sandbox) once the socket layer exists. Skipped when the binary is missing or the host cannot
 * run it.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HTTPD = join(ROOT, 'examples', 'guest', 'bin', 'httpd');
const INDEX = join(ROOT, 'examples', 'guest', 'www', 'index.html');
const canRun = process.platform === 'linux' && process.arch === 'x64' && existsSync(HTTPD) && existsSync(INDEX);

/** Every request the tests below make; the server is started with this as MAXREQUESTS. */
const REQUESTS = 9 + 20;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe.runIf(canRun)('examples/guest/httpd natively (Node http client)', () => {
  let dir = '';
  let server: ChildProcess;
  let port = 0;
  let stdout = '';
  let exited: Promise<number | null>;
  const big = new Uint8Array(3 << 20);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dunesim-httpd-'));
    copyFileSync(INDEX, join(dir, 'index.html'));
    let x = 0x12345678; // xorshift32: incompressible, reproducible
    for (let i = 0; i < big.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      big[i] = x & 0xff;
    }
    writeFileSync(join(dir, 'big.bin'), big);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'data.json'), '{"ok":true}\n');

    server = spawn(HTTPD, ['0', dir, String(REQUESTS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
    port = await new Promise<number>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /^httpd: listening on port (\d+)\n/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', (code) => reject(new Error(`httpd exited early (${code}): ${stdout}`)));
    });
  });

  afterAll(() => {
    if (server && server.exitCode === null) server.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints exactly one line when listening, with the ephemeral port', () => {
    expect(port).toBeGreaterThan(0);
    expect(stdout).toBe(`httpd: listening on port ${port}\n`);
  });

  it('GET / serves index.html with its type and length, Connection: close', async () => {
    const r = await request(port, '/');
    const want = readFileSync(INDEX);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html');
    expect(r.headers['content-length']).toBe(String(want.length));
    expect(r.headers['connection']).toBe('close');
    expect(r.body.equals(want)).toBe(true);
  });

  it('HEAD / has the same status and Content-Length and no body', async () => {
    const r = await request(port, '/', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(readFileSync(INDEX).length));
    expect(r.body.length).toBe(0);
  });

  it('a missing file is 404 with a small HTML body', async () => {
    const r = await request(port, '/missing');
    expect(r.status).toBe(404);
    expect(r.body.toString()).toContain('404 Not Found');
    expect(r.headers['content-length']).toBe(String(r.body.length));
  });

  it('a ".." component is 403, also percent-encoded', async () => {
    expect((await request(port, '/../etc/passwd')).status).toBe(403);
    expect((await request(port, '/sub/%2e%2e/%2e%2e/etc/passwd')).status).toBe(403);
  });

  it('POST is 405, an unknown method 501', async () => {
    expect((await request(port, '/', { method: 'POST' })).status).toBe(405);
    expect((await request(port, '/', { method: 'BREW' })).status).toBe(501);
  });

  it('a request head over 8 KiB is 431', async () => {
    const r = await request(port, '/', { headers: { 'X-Big': 'a'.repeat(9000) } });
    expect(r.status).toBe(431);
  });

  it('a 3 MiB file arrives intact (streamed in chunks as the socket drains)', async () => {
    const r = await request(port, '/big.bin');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(sha256(r.body)).toBe(sha256(big));
  });

  it('20 concurrent requests (one with a JSON type) all succeed', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => (i === 7 ? '/sub/data.json' : '/'));
    const replies = await Promise.all(paths.map((p) => request(port, p)));
    expect(replies.map((r) => r.status)).toEqual(paths.map(() => 200));
    expect(replies[7]!.headers['content-type']).toBe('application/json');
    expect(replies[7]!.body.toString()).toBe('{"ok":true}\n');
  });

  it(`exits 0 after MAXREQUESTS (${REQUESTS}) responses and says so`, async () => {
    expect(await exited).toBe(0);
    expect(stdout).toBe(`httpd: listening on port ${port}\nhttpd: served ${REQUESTS} requests\n`);
  });

  it('bad arguments: usage on stderr, exit 2; a port in use: exit 1', () => {
    const none = spawnSync(HTTPD, [], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^usage: httpd PORT DOCROOT/);
    expect(spawnSync(HTTPD, ['70000', dir], { encoding: 'utf8' }).status).toBe(2);
    expect(spawnSync(HTTPD, ['0', join(dir, 'index.html')], { encoding: 'utf8' }).status).toBe(2);

    const blocker = http.createServer();
    return new Promise<void>((resolve, reject) => {
      blocker.listen(0, '0.0.0.0', () => {
        try {
          const busy = (blocker.address() as { port: number }).port;
          const r = spawnSync(HTTPD, [String(busy), dir, '1'], { encoding: 'utf8', timeout: 5000 });
          expect(r.status).toBe(1);
          expect(r.stderr).toMatch(/^httpd: bind: /);
          resolve();
        } catch (e) {
          reject(e);
        } finally {
          blocker.close();
        }
      });
    });
  });
});
