import { XEON_E5_2665_LLC } from './ix-server-llc.js';
import type { LlcGeometry } from '../vtx/last-level-cache.js';

/**
 * IX Fig. 4 (connection scalability) at 1/FIG4_SCALE, shared by the Linux and the IX series: the
 * server's last-level cache is the E5-2665's 20 MB divided by 16 (the same 20 ways and 64-byte
 * lines, 1/16 of the sets) and each point has 1/16 of the paper's connections, so the
 * per-connection state meets the cache in the same proportion: whether it fits, and how far apart
 * in time a connection's lines are reused (every other connection is served in between), are what
 * set the misses, and both keep their ratio to the cache. The per-message path does not depend on
 * the connection count (epoll's ready list; IX's flow table), so nothing else moves with the
 * scale. 16 client threads on one server core each keep one 64-byte RPC in flight and cycle over
 * their share of the connections. Each point runs two passes over all of them: the first warms
 * what a first visit fills (the lines the handshake did not touch), the measured window runs from
 * the end of it to the 90 % mark (at least 64 round trips per thread).
 */
export const FIG4_SCALE = 16;
export const FIG4_THREADS = 16;
const FIG4_PASSES = 2;
const FIG4_MIN_ROUND_TRIPS = 64;

/** The server's cache at the scale. */
export const FIG4_LLC: LlcGeometry = { ...XEON_E5_2665_LLC, bytes: XEON_E5_2665_LLC.bytes / FIG4_SCALE };

export const FIG4_X_UNIT = `connections (the paper's; the model runs 1/${FIG4_SCALE})`;

/** The echo clients' shape at a point of `paperConnections` (the paper's x). */
export function fig4Clients(paperConnections: number): { connections: number; clientThreads: number; roundTrips: number; warmupRoundTrips: number; messageBytes: number } {
  const connections = Math.round(paperConnections / FIG4_SCALE);
  return {
    connections, clientThreads: FIG4_THREADS, messageBytes: 64,
    roundTrips: Math.max(FIG4_MIN_ROUND_TRIPS, Math.ceil((FIG4_PASSES * connections) / FIG4_THREADS)),
    warmupRoundTrips: connections,
  };
}
