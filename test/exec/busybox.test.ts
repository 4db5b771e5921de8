import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { constants } from 'node:os';
import { execElf } from '../../core/system/index.js';

/**
 * Differential tests of execve through a real shell: busybox (Debian's busybox-static, a static
 * glibc binary) runs the same `sh -c` scripts natively and on the model — pipelines, subshells,
 * command substitution, && and ||, redirections, exit statuses, `#!` scripts — and must print the
 * same bytes on stdout and stderr and end with the same status. (A script without a `#!` line is
 * left out: after execve's ENOEXEC busybox runs it by re-executing /proc/self/exe, and the model
 * has no /proc.)
 *
 * The scripts name busybox by one absolute path, ROOT/bin/sh, valid in both worlds: natively it
 * is the copy in the temporary directory ROOT; on the model ROOT is the guest's "/", and
 * ROOT/<ROOT's own path> is a symlink to "/" so that the same name leads to the same copy.
 */
const BUSYBOX = '/usr/bin/busybox';
const APPLETS = ['sh', 'cat', 'sort', 'uniq', 'echo', 'wc', 'tr', 'true', 'false', 'test', 'head', 'printf', 'kill', 'rm', 'ls', 'sleep'];

let root = '';
let bin = '';

function setUp(): void {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'dunesim-busybox-')));
  bin = join(root, 'bin');
  mkdirSync(bin);
  copyFileSync(BUSYBOX, join(bin, 'busybox'));
  chmodSync(join(bin, 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(bin, a));
  // ROOT/<ROOT> → "/": the absolute host path of ROOT names ROOT inside the guest too.
  const alias = join(root, root);
  mkdirSync(dirname(alias), { recursive: true });
  symlinkSync('/', alias);
  writeFileSync(join(root, 'f'), 'pear\napple\npear\nfig\napple\npear\n');
  writeFileSync(join(root, 's.sh'), `#!${bin}/sh\necho "script: $0 $# [$1] [$2]"\ncat f | head -n 2\nexit 5\n`, { mode: 0o755 });
  writeFileSync(join(root, 'opt.sh'), `#!${bin}/sh -e\necho before\nfalse\necho never\n`, { mode: 0o755 });
}

interface Outcome {
  stdout: string;
  stderr: string;
  status: number;
}

function native(args: string[]): Outcome {
  const r = spawnSync(join(bin, 'busybox'), args, { cwd: root, env: { PATH: bin }, argv0: 'sh', encoding: 'utf8' });
  const status = r.status ?? 128 + (constants.signals[r.signal as keyof typeof constants.signals] ?? 0);
  return { stdout: r.stdout, stderr: r.stderr, status };
}

function dunesim(args: string[], mode: 'linux' | 'dune' = 'linux'): Outcome {
  let stdout = '';
  let stderr = '';
  const dec = new TextDecoder();
  const r = execElf(join(bin, 'busybox'), args, {
    mode, profile: 'dune-e3-1230v2', memory: 256 << 20, root, argv0: 'sh',
    envp: [`PATH=${bin}`],
    console: (fd, data) => {
      if (fd === 1) stdout += dec.decode(data);
      else stderr += dec.decode(data);
    },
    report: () => {},
  });
  return { stdout, stderr, status: r.exitCode };
}

const SCRIPTS: Record<string, string> = {
  // A three-stage pipeline: fork, pipe, dup2, execve of each applet.
  pipeline: 'cat f | sort | uniq -c',
  // Subshells, their exit statuses, command substitution (a pipe read to its end), && and ||.
  'subshells, $(…), && and ||': '(echo a; echo b) | wc -l; (exit 3); echo "status $?"; x=$(echo hello | tr a-z A-Z); ' +
    'echo "$x $(cat f | wc -l)"; false && echo no || echo "or ran"; true && test -f f && echo "and ran"',
  // Redirections: >, >>, <, 2>, 2>&1, a missing file's message and status.
  redirections: 'echo one > o.txt; echo two >> o.txt; sort -r < o.txt; cat missing 2>/dev/null || echo "cat said $?"; ' +
    'cat missing 2>&1 | wc -l; cat o.txt 1>&2; rm o.txt',
  // A #! script with arguments, and one whose #! line carries an option (-e).
  scripts: './s.sh one "two words"; echo "s.sh: $?"; ./opt.sh; echo "opt.sh: $?"',
  // exec replaces the shell; its status is the program's.
  'exec and a status': 'echo start; exec sh -c "exit 42"',
  // A signal's death: 128 + SIGTERM.
  'killed by a signal': 'echo bye; kill -TERM $$; echo never',
  // `wait` sleeps in rt_sigsuspend until SIGCHLD; a trapped signal ends the wait (status 128 + 10).
  // The child waits 0.2 s before its kill, so that natively the shell is in `wait` when the signal
  // comes even on a loaded machine (else the trap runs first and `wait` returns 0, not 128 + 10).
  'background jobs and wait (rt_sigsuspend)': 'sleep 0 & wait; echo "wait $?"; trap "echo got USR1" USR1; (sleep 0.2; kill -USR1 $$) & wait; echo "wait $?"; ' +
    '(exit 7) & wait $!; echo "job $?"',
};

describe.runIf(existsSync(BUSYBOX))('busybox sh: execve against native execution', () => {
  beforeAll(setUp);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(name, () => {
      const want = native(['-c', script]);
      expect(want.stdout.length).toBeGreaterThan(0);
      const got = dunesim(['-c', script]);
      expect(got).toEqual(want);
    });
  }

  // Inside Dune: the shell starts in Dune, and each child it forks enters Dune on a vCPU of its
  // own (libDune's fork wrapper) — a subshell or a `$(…)` runs there; what a child execs is a
  // plain process.
  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(`${name}, started in Dune`, () => {
      expect(dunesim(['-c', script], 'dune')).toEqual(native(['-c', script]));
    });
  }
});
