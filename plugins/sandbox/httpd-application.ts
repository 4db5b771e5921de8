import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { GUEST_BIN, System, vmExitCount } from '../../core/system/index.js';
import { ExecLauncher } from '../../core/framework/exec-mode.js';
import { PolicyLoader } from './policy-loader.js';
import { PtraceLauncher } from './ptrace-launcher.js';
import { SandboxLauncher } from './sandbox-launcher.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The policy the server runs under by default: read-only files, binds on ports ≥ 1024, no connects. */
export const HTTPD_POLICY = join(HERE, 'policies', 'httpd.json');
const DEFAULT_DOCROOT = join(GUEST_BIN, '..', 'www');

/**
 * `dunesim run sandbox/httpd [--port N] [--docroot DIR] [--requests N] [--policy FILE] [--way sandbox|ptrace|linux]`:
 * examples/guest/httpd, a static event-based web server, serving DIR on 0.0.0.0:N of the host's
 * loopback (127.0.0.1) from guest ring 3 of the Dune sandbox, under policies/httpd.json unless told
 * otherwise — the paper's lighttpd experiment as something to point a browser or ab at. It runs until
 * it has served `--requests` responses (default: until dunesim is stopped).
 */
@injectable()
export class HttpdApplication implements Application {
  readonly plugin = 'sandbox';
  readonly id = 'httpd';
  readonly description = 'examples/guest/httpd serving a directory on 127.0.0.1 from inside the sandbox (real sockets; try curl or ab)';
  readonly options = {
    port: 'TCP port on 127.0.0.1 (default 8080; 0 picks a free one)',
    docroot: 'host directory to serve (default examples/guest/www)',
    requests: 'exit after this many responses (default: serve until stopped)',
    policy: `sandbox policy (default ${HTTPD_POLICY}; "null" for the null policy)`,
    way: 'sandbox (default), ptrace (the same policy by a ptrace supervisor) or linux (no policy)',
  };

  constructor(
    @inject(System) private readonly system: System,
    @inject(PolicyLoader) private readonly policies: PolicyLoader,
  ) {}

  run(ctx: RunContext): RunResult {
    const o = ctx.options;
    const port = o.port ?? '8080';
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError(`--port must be a port number (0-65535), got '${port}'`);
    const requests = o.requests ?? '0';
    if (!/^\d{1,9}$/.test(requests)) throw new UsageError(`--requests must be a whole number, got '${requests}'`);
    const docroot = resolve(o.docroot ?? DEFAULT_DOCROOT);
    if (!existsSync(docroot) || !statSync(docroot).isDirectory()) throw new UsageError(`--docroot ${docroot}: not a directory`);
    const way = o.way ?? 'sandbox';
    if (way !== 'sandbox' && way !== 'ptrace' && way !== 'linux') throw new UsageError(`--way must be sandbox, ptrace or linux, got '${way}'`);
    const httpd = join(GUEST_BIN, 'httpd');
    if (!existsSync(httpd)) throw new UsageError(`${httpd} is missing`);
    const pol = this.policies.load(o.policy === 'null' ? undefined : (o.policy ?? HTTPD_POLICY));
    let launcher: ExecLauncher | undefined;
    if (way === 'sandbox') launcher = new SandboxLauncher(pol);
    else if (way === 'ptrace') launcher = new PtraceLauncher(pol);
    // The directory is the guest's "/": the policy's file rules and the server's paths start there.
    const r = this.system.exec(httpd, [port, '/', requests], {
      mode: way, launcher, profile: ctx.profile, memory: 256 << 20, root: docroot,
      console: (_fd, data) => ctx.out.write(data),
    });
    const s = r.stats as { cycles: number; syscalls: number; instructions: number };
    return {
      exitCode: r.exitCode,
      figures: { cycles: s.cycles, instructions: s.instructions, syscalls: s.syscalls, vmExits: vmExitCount(r) },
    };
  }
}
