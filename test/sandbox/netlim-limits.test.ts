/**
 * Class 6 of the hardening issue: a program blocked for ever uses no instructions, so no limit of
 * work ends it. limits.idleSeconds and limits.wallSeconds end it with SIGKILL and a report, both
 * ways; a machine on which nothing can ever run again (every task asleep, no timer, no host
 * socket one of them waits for) ends at once as a deadlock, in every exec mode, with exit status 1.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyError } from '../../plugins/sandbox/policy-error.js';
import { policy } from './run.js';
import { ATTACKS, WAYS, runPlain, runWay, verdicts } from './netlim-run.js';
import { guestPath } from '../../core/system/guest-path.js';

const BLOCK = join(ATTACKS, 'netlim-block');
const DEADLOCK = join(ATTACKS, 'netlim-deadlock');
/** What a deadlock report says (core/cli/exec-command.ts). */
const DEADLOCK_LINE = /dunesim: the guest did not finish \(deadlock, every task is blocked and nothing can wake one, no timer and no host socket\): /;
const LOCAL_ONLY = { bind: [{ address: '127.0.0.1', ports: 0 }], connect: [] };

describe('limits.wallSeconds and limits.idleSeconds in a policy', () => {
  it('are numbers of seconds, fractions allowed', () => {
    expect(policy({ limits: { wallSeconds: 2.5, idleSeconds: 0.25 } }).limits).toEqual({ wallSeconds: 2.5, idleSeconds: 0.25 });
  });

  it('refuses what is not a positive number of seconds up to a year, naming the field', () => {
    for (const bad of [0, -1, '1', null, Infinity, 1e12, true]) {
      expect(() => policy({ limits: { idleSeconds: bad } })).toThrow(PolicyError);
      expect(() => policy({ limits: { wallSeconds: bad } })).toThrow(/limits\.wallSeconds: must be a number of seconds from 0\.001 to 31536000/);
    }
  });
});

describe.runIf(existsSync(BLOCK))('a program blocked in accept for a client that never comes', () => {
  for (const way of WAYS) {
    it(`limits.idleSeconds kills it with SIGKILL and a report (${way})`, () => {
      const r = runWay(way, BLOCK, { args: ['accept'], policy: policy({ network: LOCAL_ONLY, limits: { idleSeconds: 0.2 } }) });
      expect(r.stdout).toContain('blocking in accept');
      expect(verdicts(r.stdout).escaped).toEqual([]);
      expect(r.exitCode).toBe(128 + 9);
      expect(r.messages).toMatch(/sandbox: killed idle for 0\.2 s waiting for the host \(.*asleep in accept\): limits\.idleSeconds 0\.2 → killed by SIGKILL/);
      expect(r.events.filter((e) => e.kind === 'killed')).toHaveLength(1);
      expect((r.stats[way] as { limitReached: { limit: string } }).limitReached.limit).toBe('idleSeconds');
    });

    it(`limits.wallSeconds kills it too (${way})`, () => {
      const r = runWay(way, BLOCK, { args: ['accept'], policy: policy({ network: LOCAL_ONLY, limits: { wallSeconds: 1 } }) });
      expect(r.exitCode).toBe(128 + 9);
      expect(verdicts(r.stdout).escaped).toEqual([]);
      // Real time: on a host slow enough the limit may land before the program reaches accept.
      const blocked = r.stdout.includes('blocking in accept');
      expect(r.messages).toMatch(blocked
        ? /sandbox: killed blocked \(.*asleep in accept\) after 1 s of real time: limits\.wallSeconds 1 → killed by SIGKILL/
        : /sandbox: killed (running on at rip 0x[0-9a-f]+ \(ring \d\)|blocked \(.*\)) after 1 s of real time: limits\.wallSeconds 1 → killed by SIGKILL/);
    });
  }
});

describe.runIf(existsSync(BLOCK))('a program that spins in FUTEX_WAIT (woken at once, again and again)', () => {
  for (const way of WAYS) {
    it(`limits.wallSeconds ends it although it never blocks for long (${way})`, () => {
      // futex denied by the policy, so each FUTEX_WAIT returns at once (a report each; the kill is
      // the last); allowed, the wait would sleep for ever and the run end as a deadlock.
      const r = runWay(way, BLOCK, { args: ['futex'], policy: policy({ syscalls: { deny: ['futex'] }, limits: { wallSeconds: 0.2 } }) });
      expect(r.exitCode).toBe(128 + 9);
      const killed = r.events.filter((e) => e.kind === 'killed');
      expect(killed).toHaveLength(1);
      expect(killed[0]!.rule).toBe('limits.wallSeconds 0.2');
      expect(killed[0]!.attempted).toMatch(/ after 0\.2 s of real time$/);
    });
  }
});

describe.runIf(existsSync(BLOCK))('a program that nothing can ever wake ends as a deadlock, without a limit', () => {
  for (const way of WAYS) {
    for (const [how, call] of [['pipe', 'read'], ['poll0', 'poll'], ['epoll', 'epoll_wait'], ['select', 'select']] as const) {
      it(`${how}: asleep in ${call}${how === 'epoll' || how === 'select' ? ' beside a listening host socket it does not watch' : ''} (${way})`, () => {
        const r = runWay(way, BLOCK, { args: [how] });
        expect(r.stdout).toContain(`blocking in ${call}`);
        expect(verdicts(r.stdout).escaped).toEqual([]);
        expect(r.exitCode).toBe(1);
        expect(r.messages).toMatch(DEADLOCK_LINE);
        expect(r.messages).toMatch(new RegExp(`pid \\d+ \\(${guestPath(BLOCK).replace(/[/.]/g, '\\$&')}\\) asleep in ${call}\\n`));
      });
    }
  }

  for (const mode of ['linux', 'dune'] as const) {
    it(`a plain process asleep in read (${mode})`, () => {
      const r = runPlain(mode, BLOCK, ['pipe']);
      expect(r.exitCode).toBe(1);
      expect(r.messages).toMatch(DEADLOCK_LINE);
      expect(r.messages).toContain('asleep in read');
    });
  }
});

describe.runIf(existsSync(DEADLOCK))('two processes each waiting for the other', () => {
  for (const mode of ['linux', 'dune'] as const) {
    it(`the parent in wait4, the child in read: a deadlock, reported with both (${mode})`, () => {
      const r = runPlain(mode, DEADLOCK);
      expect(r.stdout).toMatch(/^fork: \d+\n$/);
      expect(r.exitCode).toBe(1);
      expect(r.messages).toMatch(DEADLOCK_LINE);
      expect(r.messages).toMatch(/pid 1 \(.*\) asleep in wait4, pid 2 \(.*\) asleep in read\n$/);
    });
  }

  for (const way of WAYS) {
    it(`fork is refused by the policy step, and the program alone in read is a deadlock too (${way})`, () => {
      const r = runWay(way, DEADLOCK);
      expect(r.stdout).toContain('fork: -38');
      expect(r.exitCode).toBe(1);
      expect(r.messages).toMatch(DEADLOCK_LINE);
    });
  }
});
