import { describe, expect, it } from 'vitest';
import { join, relative } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { GUEST_BIN, LinuxLauncher, guestPath, runElf } from '../../core/system/index.js';

/**
 * A program's name lands on its initial stack (argv[0], and AT_EXECFN's string), so its length
 * moves every stack address below it. Programs inside the package are named relative to its root:
 * a run's output and cycles must not depend on where the checkout lies.
 */
describe('guestPath', () => {
  it('names a file inside the package relative to its root, and keeps any other path as given', () => {
    expect(guestPath(join(GUEST_BIN, 'args'))).toBe(join('examples', 'guest', 'bin', 'args'));
    expect(guestPath('/usr/bin/env')).toBe('/usr/bin/env');
    expect(guestPath(ROOT)).toBe(ROOT);
  });

  it('an absolute and a relative path to the same program give the same argv[0] and the same cycles', () => {
    const run = (path: string): { out: string; cycles: unknown } => {
      let out = '';
      const r = runElf(path, ['x'], {
        mode: 'linux', launcher: new LinuxLauncher(), profile: 'dune-e3-1230v2', memory: 64 << 20, envp: [],
        console: (_fd, d) => { out += new TextDecoder().decode(d); }, report: () => {},
      });
      expect(r.exitCode).toBe(0);
      return { out, cycles: r.stats.cycles };
    };
    const abs = run(join(GUEST_BIN, 'args'));
    const rel = run(relative(process.cwd(), join(GUEST_BIN, 'args')));
    expect(abs.out).toContain('argv[0]=examples/guest/bin/args\n');
    expect(rel).toEqual(abs);
  });
});
