import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { IxMemcachedApplication } from '../../plugins/ix-dataplane/ix-memcached-application.js';
import { UsageError } from '../../core/framework/usage-error.js';

/** `dunesim run ix-dataplane/memcached`: one load point of IX Fig. 5 on kvserver-ix. */
function run(options: Record<string, string>): { text: string; exitCode: number; figures: Record<string, number> } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const r = new IxMemcachedApplication().run({ options, profile: 'dune-e3-1230v2', out });
  return { text, exitCode: r.exitCode, figures: r.figures ?? {} };
}

describe('run ix-dataplane/memcached', () => {
  it('answers an ETC load with no error, prints throughput and percentiles, and gets every mbuf back', () => {
    const r = run({ workload: 'etc', rate: '50000', ms: '2', connections: '8', records: '20', batch: '8' });
    expect(r.exitCode).toBe(0);
    expect(r.text).toMatch(/^memcached \(kvserver-ix\) on IX, one core, B = 8: ETC, 50000 requests\/s offered for 2 ms over 8 connections/m);
    expect(r.text).toMatch(/largest RX batch [1-8]\)/);
    expect(r.figures.completed).toBeGreaterThan(50);
    expect(r.figures.errors).toBe(0);
    expect(r.figures.mbufsHeld).toBe(0);
    expect(r.figures.p99Us).toBeGreaterThanOrEqual(r.figures.p50Us!);
  }, 60_000);

  it('refuses options out of range with the option named', () => {
    expect(() => run({ workload: 'web' })).toThrow(UsageError);
    expect(() => run({ workload: 'toString' })).toThrow(/--workload toString: etc or usr/);
    expect(() => run({ rate: '0' })).toThrow(/--rate 0: a whole number from 1000 to 5000000/);
    expect(() => run({ batch: '65' })).toThrow(/--batch 65/);
  });
});
