/**
 * Disjoint half-open ranges with their total size: the program's mappings as the memory limit
 * counts them (an mmap adds, a munmap removes, an overlapping MAP_FIXED counts once).
 */
export class RegionSet {
  private ranges: Array<[number, number]> = [];
  private sum = 0;

  get total(): number {
    return this.sum;
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    this.remove(start, end);
    const i = this.ranges.findIndex(([s]) => s > start);
    this.ranges.splice(i < 0 ? this.ranges.length : i, 0, [start, end]);
    this.sum += end - start;
  }

  /** Whether `va` lies in one of the ranges. */
  contains(va: number): boolean {
    return this.ranges.some(([s, e]) => va >= s && va < e);
  }

  remove(start: number, end: number): void {
    const next: Array<[number, number]> = [];
    for (const [s, e] of this.ranges) {
      if (e <= start || s >= end) {
        next.push([s, e]);
        continue;
      }
      this.sum -= Math.min(e, end) - Math.max(s, start);
      if (s < start) next.push([s, start]);
      if (e > end) next.push([end, e]);
    }
    this.ranges = next;
  }
}
