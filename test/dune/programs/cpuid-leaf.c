/* Asks CPUID leaf 0x40000000, the range hypervisors answer with their signature (Intel SDM
 * Vol. 2A, CPUID: leaves 40000000H–4FFFFFFFH are "invalid" on bare metal; KVM, Xen and Hyper-V
 * put a vendor string in EBX:ECX:EDX). Prints the maximum leaf and the signature. Inside Dune the
 * instruction exits to the module: a plugin's VM-exit handler may answer it. */
#include <stdio.h>
#include <string.h>

int main(void) {
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000000u), "c"(0));
  char sig[13];
  memcpy(sig, &b, 4);
  memcpy(sig + 4, &c, 4);
  memcpy(sig + 8, &d, 4);
  sig[12] = 0;
  for (int i = 0; i < 12; i++) if (sig[i] < 0x20 || sig[i] > 0x7e) sig[i] = '.';
  printf("max leaf 0x%08x, signature '%s'\n", a, sig);
  return 0;
}
