/**
 * The descriptors the program opened (limits.openFiles): open, openat, dup*, pipe*, fcntl
 * F_DUPFD add, close removes. The 0, 1 and 2 it starts with do not count.
 */
export class OpenFileCounter {
  private readonly fds = new Set<number>();

  get count(): number {
    return this.fds.size;
  }

  has(fd: number): boolean {
    return this.fds.has(fd);
  }

  opened(fd: number): void {
    this.fds.add(fd);
  }

  closed(fd: number): void {
    this.fds.delete(fd);
  }
}
