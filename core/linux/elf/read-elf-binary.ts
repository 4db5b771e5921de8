import { Stats, closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ElfError, ElfFile } from './elf-file.js';

/**
 * Reads and parses the executable at a host path, as execve(2) would refuse it: only a regular
 * file can be run (fs/exec.c do_open_execat: `!S_ISREG` is -EACCES), so a directory, a FIFO, a
 * socket or a device is an ElfError ("not a regular file"), never an EISDIR stack trace or a read
 * that waits for ever on a FIFO nobody writes. The file is opened with O_NONBLOCK and checked with
 * fstat on that descriptor, so what is checked is what is read (a FIFO opens at once for reading
 * without a writer; a path swapped between a stat and the open cannot slip through). A missing
 * path is the caller's to report (exec: status 127); every other refusal is an ElfError (126).
 */
export function readElfBinary(path: string): ElfFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new ElfError('is a directory, not an executable file');
    throw new ElfError(`cannot open it (${code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ElfError('is a directory, not an executable file');
    if (!st.isFile()) throw new ElfError(`is not a regular file (${kindOf(st)}), and only a regular file can be executed`);
    return ElfFile.parse(new Uint8Array(readFileSync(fd)));
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file';
}
