import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { DsmRun, runDsmChecked, runDsmCluster, totalStat } from '../../plugins/dsm/dsm-cluster.js';
import { MatmulApplication } from '../../plugins/dsm/dsm-run-application.js';
import { UsageError } from '../../core/framework/usage-error.js';

/**
 * The DSM plugin on two simulated nodes: IVY's protocol under both fault paths and both
 * managers (every program checks its result against a single-node run), the messages a remote
 * write fault costs, determinism, and the ends of runs that cannot go on.
 */
const PROFILE = 'dune-e3-1230v2';
const PAGE_MSG = 4096 + 32; // a page and the message header
const HEADER = 32;

function stats(r: DsmRun, node: number) {
  const s = r.nodes[node]!.stats;
  expect(s, r.nodes[node]!.stdout + r.nodes[node]!.stderr).toBeDefined();
  return s!;
}

describe('dsm protocol (dsmtest: copies, ownership moves, invalidation, a lock, barriers)', () => {
  it('linux fault path, central manager: every node reads what every other wrote', () => {
    const r = runDsmChecked({ profile: PROFILE, program: 'dsmtest', args: ['2'], nodes: 2, mode: 'linux', manager: 'central' });
    expect(r.nodes[0]!.stdout).toContain('mismatched words 0');
    expect(r.result).toBe(r.reference);
    // Each node reads the other's pages: read faults, pages sent, and later writes to pages
    // the other has copies of: invalidations.
    expect(stats(r, 0).read_faults).toBeGreaterThan(0);
    expect(stats(r, 1).read_faults).toBeGreaterThan(0);
    expect(totalStat(r, 'invalidations_sent')).toBeGreaterThan(0);
    expect(totalStat(r, 'pages_sent')).toBeGreaterThan(0);
  });

  it('dune fault path, distributed manager: the same result', () => {
    const r = runDsmChecked({ profile: PROFILE, program: 'dsmtest', args: ['2'], nodes: 2, mode: 'dune', manager: 'distributed' });
    expect(r.nodes[0]!.stdout).toContain('mismatched words 0');
    expect(totalStat(r, 'invalidations_sent')).toBeGreaterThan(0);
    // Node 1 manages the odd pages: it serves forwarded requests for pages it owns and sends
    // forwards for pages it manages.
    expect(stats(r, 1).requests_served).toBeGreaterThan(0);
  });

  it('is deterministic: the same run gives the same cycles and counts', () => {
    const a = runDsmChecked({ profile: PROFILE, program: 'dsmtest', args: ['1'], nodes: 2, mode: 'linux', manager: 'distributed' });
    const b = runDsmChecked({ profile: PROFILE, program: 'dsmtest', args: ['1'], nodes: 2, mode: 'linux', manager: 'distributed' });
    expect(b.cycles).toBe(a.cycles);
    expect(b.nodes.map((n) => n.stats)).toEqual(a.nodes.map((n) => n.stats));
  });
});

describe('a remote write fault (faultlat)', () => {
  // One fault path: the messages are the protocol's, the same under both (dsmtest runs both).
  for (const mode of ['linux'] as const) {
    it(`${mode}: request, page with ownership, confirmation — and nothing else`, () => {
      const pages = 8;
      const r = runDsmChecked({ profile: PROFILE, program: 'faultlat', args: [String(pages)], nodes: 2, mode, manager: 'central' });
      const out = r.nodes[1]!.stdout;
      // Node 1 takes one write fault per page; node 0 (owner and manager) sends each page once.
      expect(stats(r, 1).write_faults).toBe(pages);
      expect(stats(r, 1).read_faults).toBe(0);
      // IVY's improved central manager, manager = owner: REQ and CONFIRM from the requester,
      // the page with ownership from the owner (the forward is local to node 0).
      expect(out).toContain(`requester_msgs ${2 * pages}`);
      expect(out).toContain(`requester_bytes ${2 * pages * HEADER}`);
      // Node 0 then reads every page back (read faults served by node 1).
      expect(stats(r, 0).read_faults).toBe(pages);
      expect(stats(r, 0).pages_sent).toBe(pages);
      expect(stats(r, 1).pages_sent).toBe(pages);
      expect(totalStat(r, 'invalidations_sent')).toBe(0);
      // The handler's time includes its network time, and the whole fault includes the handler's.
      const n = (k: string): number => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(out)![1]);
      expect(n('fault_total_cycles')).toBeGreaterThan(n('fault_handler_cycles'));
      expect(n('fault_handler_cycles')).toBeGreaterThan(n('fault_net_cycles'));
      expect(n('fault_net_cycles')).toBeGreaterThan(n('fault_wait_cycles'));
      // Node 0 sent each page with ownership, then, as manager of its own read requests (local),
      // a forward to the owner, node 1, for each page it read back.
      expect(stats(r, 0).coherence_bytes).toBe(pages * PAGE_MSG + pages * HEADER);
    });
  }
});

describe('dsm programs on two nodes check themselves against one node', () => {
  const cases: Array<[string, string[], 'linux' | 'dune']> = [
    ['jacobi', ['16', '3'], 'linux'],
    ['matmul', ['64'], 'dune'],
    ['mergesort', ['8192'], 'linux'],
    ['falseshare', ['200'], 'linux'],
  ];
  for (const [program, args, mode] of cases) {
    it(`${program} (${mode})`, () => {
      const r = runDsmChecked({ profile: PROFILE, program, args, nodes: 2, mode, manager: 'central' });
      expect(r.verified).toBe(true);
      expect(r.cycles).toBeGreaterThan(0);
      expect(totalStat(r, 'read_faults') + totalStat(r, 'write_faults')).toBeGreaterThan(0);
    });
  }
});

describe('runs that cannot go on end with a report, not a hang', () => {
  it('a node that crashes while it owes a page: the requester names the page and the node', () => {
    const r = runDsmCluster({ profile: PROFILE, program: 'faultlat', args: ['4'], nodes: 2, mode: 'linux', manager: 'central', nodeEnv: { 0: { DSM_TEST_CRASH: '1' } } });
    expect(r.nodes[0]!.exitStatus).toBe(9);
    expect(r.nodes[1]!.exitStatus).toBe(3);
    expect(r.nodes[1]!.stderr).toMatch(/dsm: node 1: node 0 closed its connection \(crashed\?\) while this node waited for ownership of page 0/);
  });

  it('a lost message (the wire goes down mid-run): the waiting node times out naming page and node', () => {
    // Node 1 takes 400 remote write faults of about 50 µs each; the wire goes down after 5 ms.
    const r = runDsmCluster({
      profile: PROFILE, program: 'faultlat', args: ['400'], nodes: 2, mode: 'linux', manager: 'central',
      env: { DSM_TIMEOUT_MS: '5' }, cutLinkAtPs: 5e9,
    });
    expect(r.nodes[1]!.exitStatus).toBe(3);
    expect(r.nodes[1]!.stderr).toMatch(/dsm: node 1: nothing heard for 5 ms while waiting for (ownership|a read copy) of page \d+ from node 0/);
    expect(r.nodes[0]!.exitStatus).toBe(3);
  });

  it('an access outside the allocated region is an ordinary fault (SIGSEGV), and its peer reports it', () => {
    const r = runDsmCluster({ profile: PROFILE, program: 'dsmtest', args: ['1', '1'], nodes: 2, mode: 'linux', manager: 'central' });
    expect(r.nodes[1]!.exitStatus).toBe(128 + 11);
    expect(r.nodes[0]!.stderr).toContain('node 1 closed its connection (crashed?) while this node waited for a barrier release');
  });

  it('inside Dune the same stray access is a page fault the handler reports', () => {
    // Node 0 on the NIC path hears of the crash only by its silence: a short timeout.
    const r = runDsmCluster({ profile: PROFILE, program: 'dsmtest', args: ['1', '1'], nodes: 2, mode: 'dune', manager: 'central', env: { DSM_TIMEOUT_MS: '2' } });
    expect(r.nodes[1]!.exitStatus).toBe(1);
    // dune_printf writes to the console (fd 1).
    expect(r.nodes[1]!.stdout + r.nodes[1]!.stderr).toMatch(/dsm: node 1: segmentation fault at 0x60006000 \(error code 0x2\)/);
  });

  it('bad configuration is refused before any message', () => {
    const r = runDsmCluster({ profile: PROFILE, program: 'dsmtest', nodes: 2, mode: 'linux', manager: 'central', env: { DSM_MANAGER: 'nobody' } });
    expect(r.nodes[0]!.exitStatus).toBe(2);
    expect(r.nodes[0]!.stderr).toContain('DSM_MANAGER=nobody: central or distributed');
  });
});

describe('dunesim run dsm/<program>', () => {
  it('runs one program and prints its figures; bad options are usage errors', () => {
    const app = new MatmulApplication();
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += String(d)));
    const bad: Array<Record<string, string>> = [{ nodes: '0' }, { nodes: '17' }, { manager: 'ring' }, { mode: 'xen' }, { args: '64 x' }];
    for (const options of bad) {
      expect(() => app.run({ options, profile: PROFILE, out })).toThrow(UsageError);
    }
    const r = app.run({ options: { nodes: '2', manager: 'distributed', args: '32' }, profile: PROFILE, out });
    expect(r.exitCode).toBe(0);
    expect(text).toMatch(/matmul on 2 nodes \(linux, distributed manager\): [\d.]+ ms, result \d+ verified against one node/);
    expect(r.figures!.readFaults).toBeGreaterThan(0);
  });
});
