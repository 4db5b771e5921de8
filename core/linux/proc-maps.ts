import { injectable } from 'inversify';
import { EFAULT, EINVAL, MAP_SHARED, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET } from './linux-abi.js';
import type { Process } from './task.js';
import type { Vma } from './vma.js';
import { KStat, OpenFile, ReadSink, syntheticStat } from './vfs.js';

/** procfs's device and the inode /proc/PID/maps reports (a synthetic number, as procfs's are). */
const PROC_DEV = 0x16;

/**
 * /proc/self/maps (fs/proc/task_mmu.c, show_map_vma): one line per VMA,
 * `start-end perms offset major:minor inode` and the name padded to column 73. The model keeps
 * no file offset, device or inode with a VMA: those fields are 0, as for anonymous memory. The
 * text is taken when the file is opened (Linux builds it as it is read; a reader that reads it in
 * one go, as libDune's precise mode does, sees the same). The file is mode 0444, but the model's
 * processes are root, and root opens it for writing as on Linux (CAP_DAC_OVERRIDE); the write
 * then fails with EINVAL (seq_file has no write).
 */
@injectable()
export class ProcMapsFile extends OpenFile {
  readonly kind = 'proc';
  private readonly text: Uint8Array;
  private offset = 0;

  constructor(process: Process, flags: number, guestPath: string) {
    super(flags);
    this.guestPath = guestPath;
    this.text = new TextEncoder().encode(process.mm.vmas.list.map(mapsLine).join(''));
  }

  /** The guest paths that name the maps of `process` (self, thread-self, its own pid). */
  static names(process: Process, tid: number): string[] {
    return ['/proc/self/maps', `/proc/${process.pid}/maps`, '/proc/thread-self/maps', `/proc/self/task/${tid}/maps`];
  }

  override get seekable(): boolean {
    return true;
  }

  override read(len: number, sink: ReadSink, pos?: number): number {
    const at = pos ?? this.offset;
    const chunk = this.text.subarray(Math.min(at, this.text.length), Math.min(at + len, this.text.length));
    if (chunk.length > 0 && !sink(chunk)) return -EFAULT;
    if (pos === undefined) this.offset += chunk.length;
    return chunk.length;
  }

  override seek(offset: number, whence: number): number {
    const base = whence === SEEK_SET ? 0 : whence === SEEK_CUR ? this.offset : whence === SEEK_END ? this.text.length : -1;
    if (base < 0 || base + offset < 0) return -EINVAL;
    this.offset = base + offset;
    return this.offset;
  }

  override stat(): KStat {
    return syntheticStat(S_IFREG | 0o444, PROC_DEV, 1000, 0, 1024);
  }
}

function hex(v: number, width: number): string {
  return v.toString(16).padStart(width, '0');
}

function mapsLine(v: Vma): string {
  const perms = (v.readable ? 'r' : '-') + (v.writable ? 'w' : '-') + (v.executable ? 'x' : '-') + ((v.flags & MAP_SHARED) !== 0 ? 's' : 'p');
  const head = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} 00000000 00:00 0`;
  return v.name === '' ? `${head}\n` : `${head.padEnd(72)} ${v.name}\n`;
}
