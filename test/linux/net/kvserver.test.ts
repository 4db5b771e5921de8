/**
 * examples/guest/kvserver, the memcached-protocol server, as its own client over --net sim: its
 * scripted session (get/set/delete, pipelined commands, malformed ones, a line with no end, a
 * client that leaves in the middle of a set) gets the replies memcached's text protocol defines,
 * the same as natively (expected/kvserver.out), with its event loops on one CPU and on two.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execElf } from '../../../core/system/index.js';
import { GUEST_BIN } from '../../../core/system/guest-programs.js';

const KV = join(GUEST_BIN, 'kvserver');
const EXPECTED = join(GUEST_BIN, '..', 'expected', 'kvserver.out');

describe.runIf(existsSync(KV))('kvserver over the simulated network', () => {
  const want = readFileSync(EXPECTED, 'utf8');

  it('the expected transcript holds the protocol replies memcached gives', () => {
    expect(want).toContain('STORED|\nVALUE k1 5 5|\nhello|\nEND|\n');
    expect(want).toContain('DELETED|\nNOT_FOUND|\n');
    expect(want).toContain('CLIENT_ERROR bad data chunk|\n');
    expect(want).toContain('long line:|\nCLIENT_ERROR line too long|\n');
    expect(want).toContain('connections 3 ');
  });

  for (const cpus of [1, 2]) {
    it(`answers as natively with 2 event loops on ${cpus} CPU(s)`, () => {
      let out = '';
      const r = execElf(KV, ['0', '2', '3', '-t'], {
        mode: 'linux', profile: 'dune-e3-1230v2', memory: 128 << 20, net: 'sim', cpus,
        console: (fd, d) => { if (fd === 1) out += new TextDecoder().decode(d); },
        report: () => undefined,
      });
      expect(`${out}exit=${r.exitCode}\n`).toBe(want);
    });
  }
});
