import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { IxEchoApplication } from '../../plugins/ix-dataplane/ix-echo-application.js';
import { UsageError } from '../../core/framework/usage-error.js';

/** `dunesim run ix-dataplane/echo`: one point of IX Fig. 3, with the counts that explain it. */
function run(options: Record<string, string>): { text: string; exitCode: number; figures: Record<string, number> } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const r = new IxEchoApplication().run({ options, profile: 'dune-e3-1230v2', out });
  return { text, exitCode: r.exitCode, figures: r.figures ?? {} };
}

describe('run ix-dataplane/echo', () => {
  it('serves every round trip by polling (no interrupts), in batches no larger than B, and says so', () => {
    const r = run({ connections: '4', 'round-trips': '16', batch: '2' });
    expect(r.exitCode).toBe(0);
    expect(r.figures.completed).toBe(64);
    expect(r.figures.interruptsPerMessage).toBe(0);
    expect(r.text).toMatch(/^echo on IX, one core, B = 2: 4 connections × 16 messages of 64 B$/m);
    expect(r.text).toMatch(/largest RX batch [12]\)/);
    expect(r.figures.mMsgsPerSecond).toBeGreaterThan(0);
    expect(r.figures.p99Us).toBeGreaterThanOrEqual(r.figures.p50Us!);
  });

  it('on two cores RSS spreads the connections: every round trip served, ring 0 most of the busy time', () => {
    const r = run({ connections: '8', 'round-trips': '16', cores: '2' });
    expect(r.exitCode).toBe(0);
    expect(r.text).toMatch(/^echo on IX, 2 cores, B = 64: 8 connections × 16 messages of 64 B$/m);
    expect(r.figures.completed).toBe(128);
    expect(r.figures.kernelShare).toBeGreaterThan(0.5);
    expect(r.figures.kernelShare).toBeLessThan(1);
  });

  it('refuses options out of range with the option named', () => {
    expect(() => run({ batch: '65' })).toThrow(UsageError);
    expect(() => run({ connections: 'x' })).toThrow(/--connections x: a whole number from 1 to 1024/);
    expect(() => run({ cores: '9' })).toThrow(/--cores 9: a whole number from 1 to 8/);
  });
});
