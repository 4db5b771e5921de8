/**
 * The buses devices sit on. Physical addresses that are not RAM and I/O ports reach a device
 * here if one claims them; an unclaimed access is what a PC chipset does with a master abort:
 * reads return all ones, writes are dropped.
 *
 * A device sees an offset into its region and an access size of 1, 2 or 4 bytes; an 8-byte access
 * arrives as two 4-byte ones, low half first (as a 32-bit bus would split it).
 */
export interface MmioDevice {
  readonly name: string;
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

export interface PortDevice {
  readonly name: string;
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, size: 1 | 2 | 4, value: number): void;
}

interface Region<D> {
  base: number;
  end: number;
  device: D;
}

const ONES = [0, 0xff, 0xffff, 0, 0xffff_ffff] as const;

function claim<D extends { name: string }>(regions: Array<Region<D>>, base: number, length: number, device: D, what: string): void {
  if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(length) || length <= 0) {
    throw new RangeError(`${what} region of ${device.name}: base ${base} and length ${length} must be whole and positive`);
  }
  const end = base + length;
  for (const r of regions) {
    if (base < r.end && r.base < end) throw new RangeError(`${what} region of ${device.name} overlaps ${r.device.name} at 0x${Math.max(base, r.base).toString(16)}`);
  }
  regions.push({ base, end, device });
  regions.sort((a, b) => a.base - b.base);
}

function find<D>(regions: Array<Region<D>>, at: number): Region<D> | undefined {
  for (const r of regions) if (at >= r.base && at < r.end) return r;
  return undefined;
}

/** Memory-mapped I/O: physical address ranges outside RAM claimed by devices. */
export class MmioBus {
  private readonly regions: Array<Region<MmioDevice>> = [];
  /** Accesses that reached a device, and those that nobody claimed. */
  claimed = 0;
  unclaimed = 0;

  map(base: number, length: number, device: MmioDevice): void {
    claim(this.regions, base, length, device, 'MMIO');
  }

  deviceAt(pa: number): MmioDevice | undefined {
    return find(this.regions, pa)?.device;
  }

  read(pa: number, size: 1 | 2 | 4): number {
    const r = find(this.regions, pa);
    if (r === undefined || pa + size > r.end) {
      this.unclaimed++;
      return ONES[size];
    }
    this.claimed++;
    return r.device.read(pa - r.base, size) >>> 0;
  }

  write(pa: number, size: 1 | 2 | 4, value: number): void {
    const r = find(this.regions, pa);
    if (r === undefined || pa + size > r.end) {
      this.unclaimed++;
      return;
    }
    this.claimed++;
    r.device.write(pa - r.base, size, value >>> 0);
  }
}

/** The 64 Ki I/O ports of IN and OUT. */
export class PortBus {
  private readonly regions: Array<Region<PortDevice>> = [];

  map(first: number, count: number, device: PortDevice): void {
    if (first + count > 0x1_0000) throw new RangeError(`ports of ${device.name} run past 0xffff`);
    claim(this.regions, first, count, device, 'port');
  }

  in(port: number, size: 1 | 2 | 4): number {
    const r = find(this.regions, port);
    return r === undefined ? ONES[size] : r.device.in(port, size) >>> 0;
  }

  out(port: number, size: 1 | 2 | 4, value: number): void {
    find(this.regions, port)?.device.out(port, size, value >>> 0);
  }
}
