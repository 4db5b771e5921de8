/* Orphans that never end (class 8: no guest action may hang dunesim). The program forks a child
 * that spins, a child that sleeps in pause(), and a grandchild that spins, then exits at once
 * without waiting. On Linux in a PID namespace (a container), the namespace's init exiting kills
 * the rest (zap_pid_ns_processes); dunesim's program is that init, so the run ends with its
 * status, 0. */
#include "attack.h"
#include <sched.h>
#include <unistd.h>

int main(void)
{
	if (fork() == 0)
		for (;;) __asm__ volatile("" ::: "memory"); /* spins in ring 3, never enters the kernel */
	if (fork() == 0)
		for (;;) pause();
	if (fork() == 0) {
		if (fork() == 0)
			for (;;) __asm__ volatile("" ::: "memory");
		for (;;) sched_yield();
	}
	HELD("parent exits, leaving three spinning or sleeping descendants");
	return 0;
}
