/* Class 2: forging a call into the native-code bridge.
 *
 * dunesim's trusted TypeScript code (the kernel, libDune, a sandbox runtime, a ptrace supervisor)
 * lives at guest addresses as 7-byte stubs `0F FF 05 <id:u32>` (UD0). A copy of such a stub in
 * the program's own memory must be what it is on hardware: UD0, #UD, SIGILL — never a call.
 *
 *   lead-forge ID          run a forged stub with that id once (the process dies of SIGILL)
 *   lead-forge FIRST LAST  fork a child per id in [FIRST, LAST); each must die of SIGILL;
 *                          prints ESCAPED for any that does not, and a summary.
 * Registers are set to plausible values first (a syscall number in RAX, pointers in the
 * argument registers), as an attacker would to make a forged call do something.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attack.h"

static unsigned char *page;

static void run_stub(uint32_t id)
{
	unsigned char *p = page + 64;
	p[0] = 0x0f; p[1] = 0xff; p[2] = 0x05;
	memcpy(p + 3, &id, 4);
	p[7] = 0xc3; /* ret: a native that falls through comes back here */
	static const char path[] = "/etc/passwd";
	register long rdi __asm__("rdi") = (long)path;
	register long rsi __asm__("rsi") = 0;
	register long rdx __asm__("rdx") = 0;
	register long rax __asm__("rax") = 2; /* open */
	__asm__ volatile("call *%4" : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx) : "r"(p)
			 : "rcx", "r8", "r9", "r10", "r11", "memory");
	ESCAPED("stub %u returned (rax %ld)", id, rax);
}

int main(int argc, char **argv)
{
	page = (unsigned char *)raw6(9, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)page < 0) {
		printf("mmap failed: %ld\n", (long)page);
		return 2;
	}
	if (argc == 2) {
		run_stub((uint32_t)strtoul(argv[1], 0, 0));
		return 0;
	}
	uint32_t first = argc > 2 ? strtoul(argv[1], 0, 0) : 0, last = argc > 2 ? strtoul(argv[2], 0, 0) : 64;
	unsigned sigill = 0, other = 0;
	for (uint32_t id = first; id < last; id++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			printf("fork failed\n");
			return 2;
		}
		if (pid == 0) {
			run_stub(id);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGILL)
			sigill++;
		else {
			other++;
			ESCAPED("stub %u: child ended with status 0x%x, not SIGILL", id, st);
		}
	}
	printf("forged stubs: %u, SIGILL: %u, other: %u\n", last - first, sigill, other);
	return 0;
}
