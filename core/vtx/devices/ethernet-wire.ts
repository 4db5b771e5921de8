/**
 * What a frame costs on an Ethernet wire (IEEE 802.3): besides the frame itself — destination and
 * source MAC, EtherType, payload padded to at least 46 bytes, the 4-byte FCS — every frame is
 * preceded by 7 bytes of preamble and a start-of-frame delimiter and followed by a 12-byte
 * inter-frame gap. The line rate is therefore reached in frames of `wireBytes`, not of the
 * payload an application sends.
 */
export const ETH_HEADER = 14;
export const ETH_FCS = 4;
export const ETH_PREAMBLE_SFD = 8;
export const ETH_IFG = 12;
/** Smallest frame (header + payload + FCS): shorter payloads are padded. */
export const ETH_MIN_FRAME = 64;
export const IPV4_HEADER = 20;
/** A TCP header without options. */
export const TCP_HEADER = 20;

/** Bytes of the frame itself for an L2 payload of `l2Payload` bytes (padding included). */
export function frameBytes(l2Payload: number): number {
  return Math.max(ETH_MIN_FRAME, ETH_HEADER + l2Payload + ETH_FCS);
}

/** Bytes the frame occupies on the wire: preamble, SFD and the inter-frame gap included. */
export function wireBytes(l2Payload: number): number {
  return ETH_PREAMBLE_SFD + frameBytes(l2Payload) + ETH_IFG;
}

/** Wire bytes of a TCP/IPv4 segment carrying `payload` bytes (no TCP options). */
export function tcpSegmentWireBytes(payload: number): number {
  return wireBytes(IPV4_HEADER + TCP_HEADER + payload);
}

/** Frames per second a link of `bitsPerSecond` carries, back to back, at `wire` bytes each. */
export function lineRateFrames(bitsPerSecond: number, wire: number): number {
  return bitsPerSecond / (wire * 8);
}

/** Seconds to serialise one frame of `wire` bytes on a link of `bitsPerSecond`. */
export function serialisationSeconds(bitsPerSecond: number, wire: number): number {
  return (wire * 8) / bitsPerSecond;
}
