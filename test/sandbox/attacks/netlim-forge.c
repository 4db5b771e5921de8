/* Class 7: the ptrace supervisor's code is natives, 7-byte stubs (0F FF 05 id32) whose bytes are
 * no secret. netlim-forge ADDR HEX14 [ADDR HEX14 …] writes each stub at the same linear address
 * in the program's own address space (a fresh RWX page mapped over whatever was there) and calls
 * it. Run as the supervisor's code it would act on the supervisor's behalf with the program's
 * registers, CPU and memory (its wait status, its registers, its next request); it must be what
 * its bytes say instead, UD0: SIGILL. A `ret` follows each stub, so a native that returns comes
 * back here and is reported as an escape. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "attack.h"

static sigjmp_buf back;
static volatile int caught;

static void on_signal(int sig)
{
	caught = sig;
	siglongjmp(back, 1);
}

int main(int argc, char **argv)
{
	signal(SIGILL, on_signal);
	signal(SIGSEGV, on_signal);
	for (int i = 1; i + 1 < argc; i += 2) {
		uintptr_t addr = strtoul(argv[i], 0, 16);
		const char *hex = argv[i + 1];
		uintptr_t page = addr & ~(uintptr_t)0xfff;
		long m = raw6(SYS_mmap, page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (m != (long)page) {
			HELD("stub at %#lx: mmap %ld", (unsigned long)addr, m);
			continue;
		}
		unsigned char *p = (unsigned char *)addr;
		for (int k = 0; k < 7; k++) {
			unsigned v;
			char b[3] = { hex[2 * k], hex[2 * k + 1], 0 };
			v = strtoul(b, 0, 16);
			p[k] = v;
		}
		p[7] = 0xc3; /* ret */
		caught = 0;
		if (sigsetjmp(back, 1) == 0) {
			((void (*)(void))addr)();
			ESCAPED("stub %s at %#lx ran in the program and came back", hex, (unsigned long)addr);
		} else {
			HELD("stub %s at %#lx: signal %d", hex, (unsigned long)addr, caught);
		}
	}
	return 0;
}
