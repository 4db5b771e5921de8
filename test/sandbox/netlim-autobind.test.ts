/**
 * Class 5 of the hardening issue: a socket that gets a local address without bind() (inet_autobind:
 * listen on an unbound TCP socket, sendto and connect on an unbound UDP socket) is judged by the
 * policy's network.bind rules as a bind to 0.0.0.0:0, both ways (plugins/sandbox/socket-inspector.ts).
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { policy } from './run.js';
import { ATTACKS, WAYS, runWay, verdicts } from './netlim-run.js';

const AUTOBIND = join(ATTACKS, 'netlim-autobind');

/** Binds only on 127.0.0.1 at 5000-5999; connects anywhere on loopback (so a reachable listener shows). */
const NO_AUTOBIND = policy({ network: { bind: [{ address: '127.0.0.1', ports: '5000-5999' }], connect: [{ address: '127.0.0.0/8' }] } });
/** The same, but binds to 0.0.0.0 port 0 allowed: what inet_autobind does. */
const AUTOBIND_ALLOWED = policy({ network: { bind: [{ address: '0.0.0.0', ports: 0 }], connect: [{ address: '127.0.0.0/8' }] } });

describe.runIf(existsSync(AUTOBIND))('implicit binds go through the firewall', () => {
  for (const way of WAYS) {
    it(`no socket gets a local port the policy's network.bind does not cover (${way})`, () => {
      const r = runWay(way, AUTOBIND, { policy: NO_AUTOBIND, netIdleTimeoutMs: 2000 });
      const v = verdicts(r.stdout);
      expect(v.escaped).toEqual([]);
      expect(v.held).toHaveLength(6);
      expect(r.exitCode).toBe(0);
      // listen without bind: -EACCES, the reason given.
      expect(r.stdout).toContain('held listen without bind: listen = -13, no local port');
      expect(r.messages).toMatch(/denied listen\(\d+, 4\): listen on a socket with no local address binds it to 0\.0\.0\.0:0 \(inet_autobind\); no network\.bind rule covers 0\.0\.0\.0:0 → -EACCES/);
      expect(r.messages).toMatch(/denied sendto\(\d+, 0x[0-9a-f]+, 1, 0, \{127\.0\.0\.1:9\}, 16\): sendto on an unbound UDP socket binds it to 0\.0\.0\.0:0 \(inet_autobind\); no network\.bind rule covers 0\.0\.0\.0:0 → -EACCES/);
      expect(r.messages).toMatch(/denied connect\(\d+, \{127\.0\.0\.1:9\}, 16\): connect on an unbound UDP socket binds it to 0\.0\.0\.0:0 \(inet_autobind\)/);
    });

    it(`a policy that covers 0.0.0.0:0 lets the same calls bind, and the listener is reachable over loopback (${way})`, () => {
      const r = runWay(way, AUTOBIND, { policy: AUTOBIND_ALLOWED, netIdleTimeoutMs: 2000 });
      const v = verdicts(r.stdout);
      expect(v.escaped.find((l) => l.startsWith('ESCAPED listen without bind'))).toMatch(/a host connect to it: 0\)$/);
      expect(v.escaped.some((l) => l.startsWith('ESCAPED udp sendto autobind: 1, bound to port'))).toBe(true);
      expect(v.escaped.some((l) => l.startsWith('ESCAPED udp connect autobind: 0, bound to port'))).toBe(true);
      expect(r.messages).not.toContain('inet_autobind');
    });
  }

  it('without a network field nothing is judged: the null policy lets listen autobind', () => {
    const r = runWay('sandbox', AUTOBIND, { netIdleTimeoutMs: 2000 });
    expect(verdicts(r.stdout).escaped.length).toBeGreaterThan(0);
    expect(r.messages).toBe('');
  });
});
