/**
 * The boundary between a protocol stack and a network driver: whole Ethernet frames (destination
 * MAC first, no preamble, no FCS), as Linux's `struct net_device` passes `sk_buff`s between
 * `ndo_start_xmit` and `netif_receive_skb`. The Linux model's 82599 driver implements `NetDevice`
 * and calls a `NetDeviceReceiver`; the TCP/IP stack is a receiver and transmits through devices,
 * so either side can be replaced (a loopback device in tests, a ring-0 dataplane's driver).
 */
export interface NetDevice {
  /** The interface's name, as `ip link` shows it (eth0). */
  readonly name: string;
  /** The station address: 6 bytes. */
  readonly mac: Uint8Array;
  /** Largest IP packet the link carries (1500 on Ethernet). */
  readonly mtu: number;
  /**
   * Hands one frame to the device. False when the device cannot take it now (its transmit ring
   * is full): the caller keeps the frame and tries again after `NetDeviceReceiver.transmitReady`.
   * The device owns `frame` once it returns true.
   */
  transmit(frame: Uint8Array): boolean;
}

/** What a device calls when frames arrive or transmit space frees up. */
export interface NetDeviceReceiver {
  /** One received frame. `frame` belongs to the receiver from now on. */
  receive(dev: NetDevice, frame: Uint8Array): void;
  /** The device has room again after a `transmit` that returned false. */
  transmitReady(dev: NetDevice): void;
}
