/**
 * Instructions the dataplane's own code paths stand for, charged at the profile's cost of an
 * instruction. They are estimates of path lengths, not fitted to any IX figure: what makes IX
 * faster than Linux in the model is what it does not do (interrupts, a system call and a copy
 * per operation, wake-ups, context switches), which the mechanism counts show, plus these paths.
 * Hardware costs (the SYSCALL crossing, MMIO writes, VM exits) come from the shared profile.
 */
export const IX_COSTS = {
  /** One RX descriptor's write-back read, the mbuf taken, Ethernet/IPv4 checks and lwIP's tcp_input on a small segment (PCB look-up, sequence and window checks, the receive-queue append): estimate. */
  rxPacket: 400,
  /** tcp_output of one small segment: headers built in an mbuf, checksums (offloaded on the 82599, so only the pseudo-header sum), one TX descriptor: estimate. */
  txPacket: 300,
  /** One batched call: decode, handle check, dispatch: estimate. */
  call: 60,
  /** One event written to the event array: estimate. */
  event: 30,
  /** One pass of the run-to-completion loop besides its packets: the RX DD check, timers, the TX reclaim scan: estimate. */
  loop: 150,
  /** One user pointer checked (range, then a page-table walk as uaccess fix-ups would): estimate. */
  userCheck: 40,
  /** One ephemeral port tried by an outbound connection: a table-driven Toeplitz hash of 12 bytes and a flow-group look-up: estimate. */
  probe: 50,
} as const;
