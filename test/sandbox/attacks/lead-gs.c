/* Class 1: ring 3 changes state that ring-0 entry code trusts.
 *
 *   lead-gs redirect   map page 0 (or try to), zero it, load a null selector into GS (which
 *                      clears the GS base on Intel), then make a system call the policy denies.
 *                      Ring-0 code that finds its per-CPU area through GS would read page 0 and
 *                      take the call for one of its own. Prints ESCAPED if the call ran or if
 *                      the program came back from it at CPL 0.
 *   lead-gs kernelds   load the kernel data selector (0x18, RPL 3) into DS: #GP, SIGSEGV.
 *   lead-gs nullss     load a null selector into SS at CPL 3: #GP, SIGSEGV.
 *   lead-gs userds     load the user data selector (0x2b) into DS and FS: allowed; prints them.
 */
#include <string.h>
#include <sys/mman.h>
#include "attack.h"

static unsigned cpl(void)
{
	unsigned short cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "redirect";
	if (!strcmp(what, "redirect")) {
		long m = raw6(9 /* mmap */, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (m == 0) {
			volatile char *z = (volatile char *)m; /* already zero: touch it so it is present */
			for (int i = 0; i < 4096; i++)
				z[i] = 0;
		}
		printf("mmap at 0: %ld\n", m);
		/* The other way to page 0: move a mapping there (mremap_to checks mmap_min_addr too). */
		long p = raw6(9, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long r = raw6(25 /* mremap */, p, 4096, 4096, 3 /* MREMAP_MAYMOVE | MREMAP_FIXED */, 0, 0);
		printf("mremap to 0: %ld\n", r);
		unsigned short zero = 0;
		__asm__ volatile("mov %0, %%gs" : : "r"(zero));
		long fd = raw6(2 /* open */, (long)"/etc/passwd", 0, 0, 0, 0, 0);
		unsigned level = cpl();
		if (level != 3)
			ESCAPED("system call returned at CPL %u", level);
		else if (fd >= 0)
			ESCAPED("denied open ran: fd %ld", fd);
		else
			HELD("open after mov gs: %ld, CPL %u", fd, level);
		/* A second call, so that a trampoline left in a bad state shows too. */
		long pid = raw6(39 /* getpid */, 0, 0, 0, 0, 0, 0);
		if (cpl() != 3)
			ESCAPED("getpid returned at CPL %u", cpl());
		else
			HELD("getpid %s", pid > 0 ? "ok" : "failed");
		return 0;
	}
	if (!strcmp(what, "kernelds")) {
		unsigned short sel = 0x18 | 3;
		__asm__ volatile("mov %0, %%ds" : : "r"(sel));
		ESCAPED("loaded the kernel data selector into DS");
		return 0;
	}
	if (!strcmp(what, "nullss")) {
		unsigned short sel = 0;
		__asm__ volatile("mov %0, %%ss" : : "r"(sel));
		ESCAPED("loaded a null SS at CPL 3");
		return 0;
	}
	if (!strcmp(what, "userds")) {
		unsigned short sel = 0x2b, ds, fs;
		__asm__ volatile("mov %0, %%ds" : : "r"(sel));
		__asm__ volatile("mov %0, %%fs" : : "r"(sel));
		__asm__ volatile("mov %%ds, %0" : "=r"(ds));
		__asm__ volatile("mov %%fs, %0" : "=r"(fs));
		/* musl keeps its thread pointer in the FS base, which the load cleared: no printf. */
		char line[] = "ds=0x?? fs=0x??\n";
		const char *hex = "0123456789abcdef";
		line[5] = hex[(ds >> 4) & 15]; line[6] = hex[ds & 15];
		line[13] = hex[(fs >> 4) & 15]; line[14] = hex[fs & 15];
		raw6(1, 1, (long)line, sizeof line - 1, 0, 0, 0);
		raw6(231, 0, 0, 0, 0, 0, 0);
	}
	return 2;
}
