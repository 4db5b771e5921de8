import { EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, O_RDWR, POLLIN, POLLRDNORM, S_IFREG } from '../linux-abi.js';
import type { Process } from '../task.js';
import { KStat, OpenFile, makedev, syntheticStat } from '../vfs.js';
import type { ConnectionMemory } from '../../net/connection-memory.js';

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
  /** On the ready list (epi->rdllink linked). */
  queued: boolean;
  /** EPOLL_CTL_DEL, or replaced: its file's wake-ups no longer queue it. */
  removed: boolean;
  /** ep_poll_callback: the file woke; the item goes on its epoll's ready list. */
  readonly wake: () => void;
  /** eventpoll_release: the file's last reference is gone; the item leaves its epoll. */
  readonly release: () => void;
  /** Where the item's struct epitem lives for the cache proxy (-1: nowhere). */
  mem: number;
}

/**
 * A file with a wait queue that epoll can hook (ep_ptable_queue_proc): each wake-up calls the
 * items watching it, which puts them on their epoll's ready list. Files without one are looked at
 * on every epoll_wait instead.
 */
export interface EpollWaitQueue {
  addEpollWatcher(it: EpollItem): void;
  removeEpollWatcher(it: EpollItem): void;
  /** The kernel objects' memory, for the epitem (absent: the cache proxy is off). */
  readonly objectMemory: ConnectionMemory | undefined;
}

function hasWaitQueue(f: OpenFile): f is OpenFile & EpollWaitQueue {
  return typeof (f as Partial<EpollWaitQueue>).addEpollWatcher === 'function';
}

/** struct epitem on x86-64 (the "eventpoll_epi" slab's 128-byte objects): both lines are used by the callback and by the report. */
const EPITEM_BYTES = 128;
const EPITEM_LINES = Uint8Array.of(0, 1);

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
 * An epoll instance (fs/eventpoll.c): the interest list, keyed by descriptor, and the ready list.
 * A watched file with a wait queue (a socket of the simulated stack) queues its item on the ready
 * list when it wakes (ep_poll_callback), and epoll_wait looks only at the ready list, so its cost
 * follows the ready items, not the watched ones; a level-triggered item that is still ready goes
 * back on the list after it is reported, as ep_send_events puts it back. Files without a wait
 * queue are asked on every look. Readiness is what `pollMask` says when epoll_wait looks. An
 * EPOLLET item is reported again only after a wake-up of the queue it listens on (the file's read
 * or write generation moved). An item whose descriptor was closed is dropped at the next look, as
 * the last close of a file removes it from every epoll set (eventpoll_release).
 */
export class EpollFile extends OpenFile {
  readonly kind = 'epoll';
  readonly items = new Map<number, EpollItem>();
  /** rdllist: items whose file woke since they were last looked at, in the order they woke. */
  private ready: EpollItem[] = [];
  private spare: EpollItem[] = [];
  /** Items of files without a wait queue, asked on every look. */
  private readonly polled = new Set<EpollItem>();

  constructor(readonly owner: Process, private readonly ino: number) {
    super(O_RDWR);
  }

  override stat(): KStat {
    return syntheticStat(S_IFREG | 0o600, ANON_INODE_DEV, this.ino);
  }

  /** EPOLL_CTL_ADD (ep_insert): hooks the file's wait queue and queues the item if it is ready now. */
  add(fd: number, file: OpenFile, events: number, dataLo: number, dataHi: number): void {
    const stale = this.items.get(fd);
    if (stale !== undefined) this.unhook(stale);
    const it: EpollItem = {
      fd, file, events, dataLo, dataHi, disarmed: false, seen: -1, queued: false, removed: false, mem: -1,
      wake: () => this.callback(it),
      release: () => {
        if (this.items.get(it.fd) === it) this.items.delete(it.fd);
        this.unhook(it);
      },
    };
    this.items.set(fd, it);
    if (hasWaitQueue(file)) {
      const m = file.objectMemory;
      if (m !== undefined) {
        it.mem = m.allocate(EPITEM_BYTES);
        if (it.mem >= 0) m.touchLines(it.mem, EPITEM_LINES);
      }
      file.addEpollWatcher(it);
      this.queueIfReady(it);
    } else this.polled.add(it);
  }

  /** EPOLL_CTL_MOD: new events and data; the item is looked at again. */
  modify(it: EpollItem, events: number, dataLo: number, dataHi: number): void {
    it.events = events;
    it.dataLo = dataLo;
    it.dataHi = dataHi;
    it.disarmed = false;
    it.seen = -1;
    if (!this.polled.has(it)) this.queueIfReady(it);
  }

  /** EPOLL_CTL_DEL (ep_remove). */
  remove(fd: number): void {
    const it = this.items.get(fd);
    if (it === undefined) return;
    this.items.delete(fd);
    this.unhook(it);
  }

  /** Files epoll_wait will ask now: the ready list and the files without a wait queue. */
  get lookCount(): number {
    return this.ready.length + this.polled.size;
  }

  private unhook(it: EpollItem): void {
    if (it.removed) return;
    it.removed = true;
    this.polled.delete(it);
    if (hasWaitQueue(it.file)) {
      it.file.removeEpollWatcher(it);
      if (it.mem >= 0) it.file.objectMemory?.free(it.mem, EPITEM_BYTES);
      it.mem = -1;
    }
  }

  private queueIfReady(it: EpollItem): void {
    if (!it.queued && (it.file.pollMask() & ((it.events & EVENT_BITS) | ALWAYS)) !== 0) {
      it.queued = true;
      this.ready.push(it);
    }
  }

  /** ep_poll_callback: the item's file woke. */
  private callback(it: EpollItem): void {
    if (it.removed || it.disarmed) return;
    if (it.mem >= 0) (it.file as OpenFile & EpollWaitQueue).objectMemory?.touchLines(it.mem, EPITEM_LINES);
    if (it.queued) return;
    it.queued = true;
    this.ready.push(it);
  }

  /** Collects up to `max` ready items as (events, data) into `out`; returns how many. */
  collect(max: number, out: Array<{ events: number; dataLo: number; dataHi: number }>): number {
    const list = this.ready;
    this.ready = this.spare;
    let i = 0;
    for (; i < list.length && out.length < max; i++) {
      const it = list[i]!;
      it.queued = false;
      if (it.removed) continue;
      if (it.mem >= 0) (it.file as OpenFile & EpollWaitQueue).objectMemory?.touchLines(it.mem, EPITEM_LINES);
      if (this.report(it, out) && (it.events & (EPOLLET | EPOLLONESHOT)) === 0 && !it.queued) {
        // Level-triggered and still ready: back on the list for the next look.
        it.queued = true;
        this.ready.push(it);
      }
    }
    // What did not fit stays queued, ahead of what was put back.
    if (i < list.length) this.ready.splice(0, 0, ...list.slice(i));
    list.length = 0;
    this.spare = list;
    for (const it of this.polled) {
      if (out.length >= max) break;
      this.report(it, out);
    }
    return out.length;
  }

  /** Reports the item if it is ready; false when it is not (or its descriptor was closed). */
  private report(it: EpollItem, out: Array<{ events: number; dataLo: number; dataHi: number }>): boolean {
    if (this.owner.files.get(it.fd) !== it.file) {
      if (this.items.get(it.fd) === it) this.items.delete(it.fd);
      this.unhook(it);
      return false;
    }
    if (it.disarmed) return false;
    const ready = it.file.pollMask() & ((it.events & EVENT_BITS) | ALWAYS);
    if (ready === 0) return false;
    if ((it.events & EPOLLET) !== 0) {
      // Edge-triggered: only a wake-up since the last report makes it ready again.
      const g = wakeups(it);
      if (g === it.seen) return false;
      it.seen = g;
    }
    out.push({ events: ready, dataLo: it.dataLo, dataHi: it.dataHi });
    if ((it.events & EPOLLONESHOT) !== 0) it.disarmed = true;
    return true;
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
