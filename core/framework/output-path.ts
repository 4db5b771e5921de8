import { accessSync, constants, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './usage-error.js';

/**
 * Output destinations (`--json FILE`, `--stats FILE`, `--report DIR`) are checked before any work,
 * so that a bench run of a minute does not end in an error about where its results go. The checks
 * create nothing: the directories are made when the output is written.
 */

/** The nearest existing ancestor of `path` (itself when it exists). */
function nearestExisting(path: string): string {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

function writableDirectory(dir: string, what: string): void {
  if (!statSync(dir).isDirectory()) throw new UsageError(`${what}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`${what}: the directory ${dir} is not writable`);
  }
}

/** Refuses (UsageError, status 2) a file destination that cannot be written: a directory, read-only, under a file. */
export function checkOutputFile(path: string, flag: string): void {
  const what = `${flag} ${path}`;
  const at = nearestExisting(path);
  if (at === resolve(path)) {
    const st = statSync(at);
    if (st.isDirectory()) throw new UsageError(`${what}: is a directory (give a file name)`);
    if (!st.isFile()) throw new UsageError(`${what}: is not a regular file`);
    try {
      accessSync(at, constants.W_OK);
    } catch {
      throw new UsageError(`${what}: is not writable`);
    }
    return;
  }
  writableDirectory(at, what);
}

/** Refuses a directory destination that cannot hold DIR/index.html: an existing file, read-only, under a file. */
export function checkOutputDir(dir: string, flag: string, file = 'index.html'): void {
  const what = `${flag} ${dir}`;
  const at = nearestExisting(dir);
  if (at === resolve(dir)) {
    if (!statSync(at).isDirectory()) throw new UsageError(`${what}: exists and is not a directory`);
    checkOutputFile(join(dir, file), flag);
    return;
  }
  writableDirectory(at, what);
}

/** Writes an output file (making its directory), a failure as one line (UsageError) rather than a stack trace. */
export function writeOutputFile(path: string, text: string, flag: string): void {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot write it: ${(e as Error).message}`);
  }
}
