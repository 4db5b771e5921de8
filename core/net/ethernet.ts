/** Ethernet II framing (IEEE 802.3 with an EtherType): destination, source, type; no FCS here. */
export const ETH_HLEN = 14;
/** Smallest frame without FCS: shorter ones are padded on transmit (802.3 minFrameSize 64 − 4). */
export const ETH_ZLEN = 60;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;

export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff = 0): boolean {
  for (let i = 0; i < 6; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

export function isBroadcastMac(a: Uint8Array, off: number): boolean {
  return (a[off]! & a[off + 1]! & a[off + 2]! & a[off + 3]! & a[off + 4]! & a[off + 5]!) === 0xff;
}

export function macToString(a: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(a[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Parses `aa:bb:cc:dd:ee:ff`; throws a RangeError naming the bad text. */
export function macFromString(s: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(s);
  if (m === null) throw new RangeError(`not a MAC address: ${JSON.stringify(s)}`);
  return new Uint8Array(m.slice(1).map((h) => parseInt(h, 16)));
}

/** Writes the Ethernet header's source and type (the destination comes from ARP). */
export function writeEthernetSource(frame: Uint8Array, src: Uint8Array, etherType: number): void {
  frame.set(src, 6);
  frame[12] = etherType >>> 8;
  frame[13] = etherType & 0xff;
}
