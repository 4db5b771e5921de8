/**
 * Microsoft's RSS verification suite ("Verifying the RSS Hash Calculation", NDIS; the 82599
 * datasheet's §7.1.2.8.3 prints the same table): destination and source of five flows, with their
 * IPv4 and TCP/IPv4 hashes under MICROSOFT_RSS_KEY.
 */
export const RSS_VECTORS: ReadonlyArray<readonly [dst: string, dstPort: number, src: string, srcPort: number, ipv4: number, tcp: number]> = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
];
