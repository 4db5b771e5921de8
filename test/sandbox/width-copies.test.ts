/**
 * The sandbox gives the kernel its own copies of the argument buffers it checked
 * (plugins/sandbox/argument-copies.ts): test/sandbox/attacks/width-toctou.c, with this test
 * playing a sibling thread that rewrites the program's buffers when the kernel dispatches the
 * call — after the checks, before the kernel reads them. The sandbox holds; the ptrace
 * supervisor cannot (the kernel reads the tracee's memory itself), as its security note says.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execElf } from '../../core/system/index.js';
import type { ExecLauncher } from '../../core/framework/exec-mode.js';
import type { Kernel } from '../../core/linux/kernel.js';
import { NR } from '../../core/linux/linux-abi.js';
import { PtraceLauncher } from '../../plugins/sandbox/ptrace-launcher.js';
import { SandboxLauncher } from '../../plugins/sandbox/sandbox-launcher.js';
import { ARG_COPIES_SIZE, ARG_COPIES_VA } from '../../plugins/sandbox/argument-copies.js';
import { ROOT } from './hostile.js';
import { policy } from './run.js';

const TOCTOU = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'width-toctou');
const POLICY = policy({ files: [{ path: '/', access: 'read-only' }, { path: '/secret', access: 'none' }] });

interface Raced {
  stdout: string;
  exitCode: number;
  /** The path argument of open as the kernel got it. */
  openPath: number;
}

/**
 * Runs width-toctou with a racer: once the program has said where its buffers are, the kernel's
 * dispatch of open and writev first rewrites them in the program's memory (as another thread
 * would), then runs the call.
 */
function raced(launcher: ExecLauncher, mode: 'sandbox' | 'ptrace'): Raced {
  let kernel: Kernel | undefined;
  const launch = launcher.launch.bind(launcher);
  launcher.launch = (ctx) => {
    kernel = ctx.kernel;
    return launch(ctx);
  };
  const root = mkdtempSync(join(tmpdir(), 'dunesim-toctou-'));
  mkdirSync(join(root, 'secret'));
  writeFileSync(join(root, 'secret', 'key'), 'the key\n');
  mkdirSync(join(root, 'pub'));
  writeFileSync(join(root, 'pub', 'file'), 'public\n');
  let stdout = '';
  let patched = false;
  let openPath = -1;
  const enc = new TextEncoder();
  try {
    const r = execElf(TOCTOU, [], {
      mode, launcher, profile: 'dune-e3-1230v2', memory: 256 << 20, root, envp: [],
      console: (fd, data) => {
        if (fd !== 1) return;
        stdout += new TextDecoder().decode(data);
        const path = /buf path 0x([0-9a-f]+)/.exec(stdout);
        const iov = /buf iov 0x([0-9a-f]+)/.exec(stdout);
        if (patched || path === null || iov === null) return;
        patched = true;
        const k = kernel!;
        const dispatch = k.dispatch.bind(k);
        k.dispatch = (cpu, t, nr, regs) => {
          if (t.process.name.endsWith('width-toctou')) {
            if (nr === NR.open) {
              openPath = regs.get(7 /* RDI */);
              k.copyToUser(cpu, t, parseInt(path[1]!, 16), enc.encode('/secret/key\0'));
            }
            if (nr === NR.writev && regs.get(2 /* RDX */) === 1) { // the program's; musl's stdio writes two
              const b = new Uint8Array(8);
              new DataView(b.buffer).setUint32(0, 0x7010_0000, true); // iov_base: the runtime's stack
              k.copyToUser(cpu, t, parseInt(iov[1]!, 16), b);
            }
          }
          return dispatch(cpu, t, nr, regs);
        };
      },
      report: () => {},
    });
    return { stdout, exitCode: r.exitCode, openPath };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('argument copies: the kernel reads what the sandbox checked', () => {
  it('--mode sandbox: a buffer rewritten after the checks changes nothing the kernel does', () => {
    const r = raced(new SandboxLauncher(POLICY), 'sandbox');
    expect(r.exitCode).toBe(0);
    // The kernel got the runtime's copy of the path, not the program's buffer.
    expect(r.openPath).toBeGreaterThanOrEqual(ARG_COPIES_VA);
    expect(r.openPath).toBeLessThan(ARG_COPIES_VA + ARG_COPIES_SIZE);
    expect(r.stdout).toContain('held open: the kernel opened what was checked (4, "public")');
    expect(r.stdout).not.toContain('ESCAPED');
    // writev wrote "hello" from the checked iovec, not 6 bytes of the runtime's stack.
    expect(r.stdout).toContain('hello\n\nwritev 6\n');
  });

  it('--mode ptrace: the race is inherent — the kernel reads the tracee after the supervisor did', () => {
    const r = raced(new PtraceLauncher(POLICY), 'ptrace');
    expect(r.stdout).toContain('ESCAPED open: the kernel opened the rewritten path (/secret/key)');
    expect(r.stdout).toContain('writev -14'); // the rewritten iov_base is not mapped here
  });
});
