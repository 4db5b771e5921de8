/**
 * `dunesim bench wedge`: Dune Table 5's create and ctx-switch rows from Wedge's own programs, and
 * bench.c's mode-2 curve. The assertions are about mechanisms (what a flush costs per page, that
 * a callgate needs no VM exit), not about matching the paper's numbers.
 */
import { describe, it, expect } from 'vitest';
import { DEFAULT_PROFILE } from '../../core/vtx/cost-model.js';
import { WedgeBenchSuite } from '../../plugins/wedge/wedge-bench-suite.js';
import { system } from './helpers.js';
import { httpPerRequest, runWedgeHttpd } from '../../plugins/wedge/http-request-rows.js';
import { haveAb } from '../../plugins/sandbox/httpd-rows.js';

describe('bench wedge', () => {
  const result = new WedgeBenchSuite(system).run({ profile: DEFAULT_PROFILE, progress: () => {} });
  const row = (id: string) => result.rows.find((r) => r.id === id)!;

  it('create and ctx-switch: fork and sthread columns in µs beside Table 5, with the mechanism counts', () => {
    for (const id of ['create', 'ctx-switch']) {
      const r = row(id);
      expect(r.unit).toBe('µs');
      expect(r.linux).toBeGreaterThan(0);
      expect(r.dune).toBeGreaterThan(0);
      expect(r.paper?.source).toBe('Dune §6.3.2, Table 5');
    }
    const create = row('create').counts!;
    // An empty sthread dirties one stack page, and the recycle zeroes exactly that one.
    expect(create['dune.stackPagesZeroedPerRecycle']).toBe(1);
    expect(create['dune.pagesRestoredPerRecycle']).toBeDefined();
    // Ring 3 → ring 0 → the gate's root and back is SYSCALL, CR3 writes and IRET: no VM exit.
    expect(row('ctx-switch').counts!['dune.vmExits']).toBe(0);
    expect(result.columns).toEqual({ linux: 'fork', dune: 'sthread' });
  });

  it('mode 2: a flushing CR3 switch costs a walk per touched page; a PCID switch with CR3_NOFLUSH a constant', () => {
    const names = ['no switch', 'CR3 switch, flush', 'PCID switch, no flush'];
    const at = (pages: number, variant: number): number => row(`mode2: ${pages} pages · ${names[variant]}`).value!;
    const points = [1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300];
    for (const p of points) {
      expect(at(p, 1)).toBeGreaterThan(at(p, 2));
      expect(at(p, 2)).toBeGreaterThan(at(p, 0));
    }
    const flushPerPage = (at(300, 1) - at(300, 0) - (at(1, 1) - at(1, 0))) / 299;
    const pcidPerPage = (at(300, 2) - at(300, 0) - (at(1, 2) - at(1, 0))) / 299;
    expect(flushPerPage).toBeGreaterThan(10);
    expect(Math.abs(pcidPerPage)).toBeLessThan(1);
    const series = result.rows.filter((r) => r.series);
    expect(series).toHaveLength(points.length * 3);
    expect(new Set(series.map((r) => r.series!.name))).toEqual(new Set(names));
  });
});

describe.runIf(haveAb())('wedgehttpd under ab', () => {
  it('a Dune sthread granted only the socket serves every request; the sockets are VMCALLs from ring 0', () => {
    const small = runWedgeHttpd(system, DEFAULT_PROFILE, 'dune', 2);
    expect(small.result.exitCode).toBe(0);
    expect(small.abFailed).toBe(0);
    const per = httpPerRequest(system, DEFAULT_PROFILE, 'dune', [2, 4]);
    expect(per.failed).toBe(0);
    // accept, the request's reads, open, read, close, two writes, the master's close: each a VMCALL.
    expect(per.vmExits).toBeGreaterThanOrEqual(8);
  });
});
