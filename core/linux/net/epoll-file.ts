import { EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, O_RDWR, POLLIN, POLLRDNORM, S_IFREG } from '../linux-abi.js';
import type { Process } from '../task.js';
import { KStat, OpenFile, makedev, syntheticStat } from '../vfs.js';

/** One watched descriptor (struct epitem): the file, the events asked for, the user's data. */
export interface EpollItem {
  readonly fd: number;
  readonly file: OpenFile;
  events: number;
  dataLo: number;
  dataHi: number;
  /** EPOLLONESHOT: reported once, then silent until EPOLL_CTL_MOD. */
  disarmed: boolean;
  /** EPOLLET: the file's wake-up count when the item was last reported (-1: never). */
  seen: number;
}

const ANON_INODE_DEV = makedev(0, 13);

/** The wake-ups of the queues an item listens on (EPOLLIN: input, EPOLLOUT: output). */
function wakeups(it: EpollItem): number {
  return ((it.events & EPOLLIN) !== 0 ? it.file.readGeneration : 0) + ((it.events & EPOLLOUT) !== 0 ? it.file.writeGeneration * 0x1_0000 : 0);
}
/** Always reported, whether asked for or not (ep_item_poll). */
const ALWAYS = EPOLLERR | EPOLLHUP;
/** The bits of `events` that are event kinds rather than flags (EPOLLET, EPOLLONESHOT …). */
const EVENT_BITS = 0x0fff_ffff;

/**
 * An epoll instance (fs/eventpoll.c): the interest list, keyed by descriptor. Readiness is asked
 * of each file when epoll_wait looks (level-triggered: what `pollMask` says now). An EPOLLET item
 * is reported again only after a wake-up of the queue it listens on (the file's read or write
 * generation moved), as ep_poll_callback queues it on each wake-up.
 * An item whose descriptor was closed is dropped at the next look, as the last close of a file
 * removes it from every epoll set (eventpoll_release).
 */
export class EpollFile extends OpenFile {
  readonly kind = 'epoll';
  readonly items = new Map<number, EpollItem>();

  constructor(readonly owner: Process, private readonly ino: number) {
    super(O_RDWR);
  }

  override stat(): KStat {
    return syntheticStat(S_IFREG | 0o600, ANON_INODE_DEV, this.ino);
  }

  /** Collects up to `max` ready items as (events, data) into `out`; returns how many. */
  collect(max: number, out: Array<{ events: number; dataLo: number; dataHi: number }>): number {
    for (const it of this.items.values()) {
      if (out.length >= max) break;
      if (this.owner.files.get(it.fd) !== it.file) {
        this.items.delete(it.fd);
        continue;
      }
      if (it.disarmed) continue;
      const ready = it.file.pollMask() & ((it.events & EVENT_BITS) | ALWAYS);
      if (ready === 0) continue;
      if ((it.events & EPOLLET) !== 0) {
        // Edge-triggered: only a wake-up since the last report makes it ready again.
        const g = wakeups(it);
        if (g === it.seen) continue;
        it.seen = g;
      }
      out.push({ events: ready, dataLo: it.dataLo, dataHi: it.dataHi });
      if ((it.events & EPOLLONESHOT) !== 0) it.disarmed = true;
    }
    return out.length;
  }

  /** An epoll file is itself readable when one of its items is ready (nested epoll, poll on it). */
  override readReady(): boolean {
    return this.collectProbe();
  }

  override pollMask(): number {
    return this.collectProbe() ? POLLIN | POLLRDNORM : 0;
  }

  override writeReady(): boolean {
    return false;
  }

  /** Whether a watched file can hear from the host (the guard stops a loop of nested epolls). */
  override hostCanWake(): boolean {
    if (this.probingHost) return false;
    this.probingHost = true;
    try {
      for (const it of this.items.values()) if (this.owner.files.get(it.fd) === it.file && it.file.hostCanWake()) return true;
      return false;
    } finally {
      this.probingHost = false;
    }
  }

  private probingHost = false;

  private collectProbe(): boolean {
    for (const it of this.items.values()) {
      if (it.disarmed || this.owner.files.get(it.fd) !== it.file) continue;
      if ((it.file.pollMask() & ((it.events & EVENT_BITS) | ALWAYS)) === 0) continue;
      if ((it.events & EPOLLET) === 0 || wakeups(it) !== it.seen) return true;
    }
    return false;
  }
}
