/* Shared helpers of the attack programs: raw system calls (no libc wrapper may check or
 * normalise an argument on the way) and a verdict line the tests read. */
#ifndef ATTACK_H
#define ATTACK_H
#include <stdio.h>
#include <stdlib.h>

static inline long raw6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* One line per finding: "ESCAPED <what>" when the attack got out, "held <what>" when not. */
#define ESCAPED(...) do { printf("ESCAPED "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)
#define HELD(...) do { printf("held "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

#endif
