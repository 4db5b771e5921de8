import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

/**
 * Reads a text input the user named (a policy, a manifest) and refuses anything but a regular
 * file with an Error whose message is one line: a directory is not read (EISDIR), and a FIFO is
 * opened with O_NONBLOCK and refused after fstat instead of blocking for ever on a read nobody
 * answers. The check is made on the descriptor that is read, so a path swapped in between cannot
 * slip through.
 */
export function readInputFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error('is a directory');
    if (!st.isFile()) throw new Error('is not a regular file');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** An error message on one line (JSON.parse quotes the offending text, newlines and all). */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
