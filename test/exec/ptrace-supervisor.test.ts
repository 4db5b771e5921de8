/**
 * A real ptrace supervisor (examples/guest/syscalls N ptrace): fork, PTRACE_TRACEME, raise(SIGSTOP)
 * (musl: tkill), then PTRACE_SYSCALL stops at every system-call entry and exit (ptrace(2)). Its
 * output, which says whether every call stopped twice, must equal a native run's.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/system/index.js';

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'examples', 'guest', 'bin', 'syscalls');
const native = spawnSync(BIN, ['50', 'ptrace'], { encoding: 'utf8' });
// Native ptrace may be forbidden where the tests run (a container without CAP_SYS_PTRACE, Yama).
const nativeOk = existsSync(BIN) && native.status === 0;

describe.runIf(nativeOk)('a ptrace supervisor as a guest program', () => {
  it('stops every call twice and lets it through, as natively', () => {
    let out = '';
    const r = execElf(BIN, ['50', 'ptrace'], {
      mode: 'linux', profile: 'dune-e3-1230v2', memory: 256 << 20,
      console: (fd, d) => { if (fd === 1) out += new TextDecoder().decode(d); }, report: () => {},
    });
    expect(r.exitCode).toBe(0);
    expect(out).toBe(native.stdout);
    expect(out).toContain('every one stopped twice');
  });
});
