import { describe, expect, it, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execElf } from '../../core/system/index.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import type { VmExitHandler } from '../../core/framework/vm-exit-handler.js';
import { RAX, RBX, RCX, RDX } from '../../core/vtx/cpu.js';
import { VmExitReason } from '../../core/vtx/vmcs-field.js';

/**
 * The VmExitHandler contribution point: a plugin's handler is asked before the Dune module's own
 * handling for the exit reasons it lists. Here a hypervisor CPUID leaf (0x40000000, the range
 * KVM and Xen answer with their signature) that the module would pass through to the host.
 */
const PROGRAM = join(ROOT, 'test', 'dune', 'programs', 'bin', 'cpuid-leaf');

interface Seen { leaf: number; length: number; cpl: number }

function signatureLeaf(seen: Seen[]): VmExitHandler {
  const word = (s: string): number => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);
  return {
    reasons: [VmExitReason.Cpuid],
    handle(exit) {
      seen.push({ leaf: exit.regs.get(RAX) >>> 0, length: exit.instructionLength, cpl: exit.guestCpl });
      if ((exit.regs.get(RAX) >>> 0) !== 0x4000_0000) return false; // every other leaf: the module's passthrough
      exit.regs.set(RAX, 0x4000_0001);
      exit.regs.set(RBX, word('dune'));
      exit.regs.set(RCX, word('simH'));
      exit.regs.set(RDX, word('yper'));
      exit.skipInstruction();
      return true;
    },
  };
}

function run(handlers: VmExitHandler[]): { out: string; exitCode: number } {
  let out = '';
  const r = execElf(PROGRAM, [], {
    mode: 'dune', profile: 'dune-e3-1230v2', memory: 64 << 20, envp: [], vmExitHandlers: handlers,
    console: (fd, d) => (out += fd === 1 ? new TextDecoder().decode(d) : ''),
  });
  return { out, exitCode: r.exitCode };
}

const scratch = mkdtempSync(join(tmpdir(), 'dunesim-exit-handler-'));
const pluginDir = join(ROOT, 'plugins', `hyperleaf.guide-test-${process.pid}`);
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(pluginDir, { recursive: true, force: true });
});

describe('VmExitHandler: plugins handle VM exits before the Dune module', () => {
  it('a handler answers the CPUID leaf it knows and leaves the others to the module', () => {
    const seen: Seen[] = [];
    expect(run([signatureLeaf(seen)])).toEqual({ out: "max leaf 0x40000001, signature 'dunesimHyper'\n", exitCode: 0 });
    const own = seen.filter((e) => e.leaf === 0x4000_0000);
    expect(own).toEqual([{ leaf: 0x4000_0000, length: 2, cpl: 0 }]); // CPUID is 0F A2; --mode dune runs the program in ring 0
    // Without it the module passes the leaf through to the host's CPUID: the model has none.
    expect(run([]).out).toBe("max leaf 0x00000000, signature '............'\n");
  });

  it('handlers are asked in order, and one that declines passes the exit on', () => {
    const order: string[] = [];
    const decline: VmExitHandler = { reasons: [VmExitReason.Cpuid], handle: () => (order.push('first'), false) };
    const seen: Seen[] = [];
    const answer = signatureLeaf(seen);
    const wrapped: VmExitHandler = { reasons: answer.reasons, handle: (e) => (order.push('second'), answer.handle(e)) };
    const other: VmExitHandler = { reasons: [VmExitReason.Hlt], handle: () => (order.push('hlt'), false) };
    expect(run([decline, wrapped, other]).out).toContain('dunesimHyper');
    expect(order.slice(-2)).toEqual(['first', 'second']);
    expect(order).not.toContain('hlt'); // only the reasons it listed
  });

  it('a plugin binds one through its ContainerModule and `dunesim exec --mode dune` uses it', () => {
    mkdirSync(pluginDir, { recursive: true });
    writeFileSync(join(pluginDir, 'index.ts'), `
import { ContainerModule, injectable } from 'inversify';
import { VmExitHandler, VmExitInfo } from '../../core/framework/vm-exit-handler.js';
import { VmExitReason } from '../../core/vtx/vmcs-field.js';
import { RAX, RBX, RCX, RDX } from '../../core/vtx/cpu.js';

@injectable()
class HyperLeaf implements VmExitHandler {
  readonly reasons = [VmExitReason.Cpuid];
  handle(exit: VmExitInfo): boolean {
    if ((exit.regs.get(RAX) >>> 0) !== 0x40000000) return false;
    const w = (s: string): number => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);
    exit.regs.set(RAX, 0x40000000);
    exit.regs.set(RBX, w('plug'));
    exit.regs.set(RCX, w('inLe'));
    exit.regs.set(RDX, w('af!!'));
    exit.skipInstruction();
    return true;
  }
}

export default new ContainerModule(({ bind }) => {
  bind(HyperLeaf).toSelf();
  bind(VmExitHandler).toService(HyperLeaf);
});
`);
    const manifest = join(scratch, 'manifest.json');
    writeFileSync(manifest, JSON.stringify({ plugins: [{ name: 'hyperleaf', description: 'a CPUID leaf', module: join(pluginDir, 'index.ts') }] }));
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'exec', '--mode', 'dune', '--', PROGRAM], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DUNESIM_MANIFEST: manifest },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("max leaf 0x40000000, signature 'pluginLeaf!!'\n");
  });
});
