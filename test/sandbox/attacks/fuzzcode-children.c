/* Random-code fuzzer (class 8: random code must not take the machine down).
 *
 *   fuzzcode-children SEED COUNT [fork|inline]
 *
 * fork (the default): forks COUNT children; each maps an RWX page, fills it with seeded random
 * bytes (with some structure: prefixes, ModRM forms, branches, system-call, interrupt and
 * privileged instructions), loads random values into all sixteen general-purpose registers,
 * sets a random x87 control word and MXCSR, and jumps into the page. An interval timer
 * (SIGALRM) bounds a child that loops. The parent waits for each and prints how they died:
 *
 *   fuzzcode: ran N children: SIGSEGV a SIGILL b ... exited c
 *
 * inline: no fork; the process itself runs one page of random code (for --mode dune, where a
 * forked child leaves Dune, and for the sandbox). It never returns: the verdict is how dunesim
 * ends the process.
 *
 * Everything is derived from SEED with xorshift64, so a run is deterministic. */
#include "attack.h"
#include <stdint.h>
#include <string.h>

#define SYS_write 1
#define SYS_mmap 9
#define SYS_rt_sigaction 13
#define SYS_setitimer 38
#define SYS_fork 57
#define SYS_exit_group 231
#define SYS_wait4 61
#define SYS_close 3

#define PAGE 4096
#define STRUCTURED 224

static uint64_t state;

static uint64_t rnd(void)
{
	uint64_t x = state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return state = x;
}

static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

/* Instruction fragments that reach the interesting paths of the CPU and the kernel. */
static const uint8_t specials[][4] = {
	{2, 0x0f, 0x05},       /* syscall */
	{3, 0x48, 0x0f, 0x07}, /* sysretq (ring 3: #GP) */
	{2, 0x0f, 0x07},       /* sysretl */
	{2, 0x0f, 0x34},       /* sysenter */
	{2, 0x0f, 0x35},       /* sysexit */
	{1, 0xcc},             /* int3 */
	{1, 0xce},             /* into (#UD in 64-bit mode) */
	{1, 0xf1},             /* int1 / icebp */
	{2, 0x48, 0xcf},       /* iretq */
	{1, 0xcf},             /* iretd */
	{2, 0x0f, 0xff},       /* ud0 */
	{2, 0x0f, 0x0b},       /* ud2 */
	{1, 0xf4},             /* hlt */
	{1, 0xfa},             /* cli */
	{1, 0xfb},             /* sti */
	{1, 0xec},             /* in al, dx */
	{1, 0xee},             /* out dx, al */
	{2, 0x0f, 0x30},       /* wrmsr */
	{2, 0x0f, 0x32},       /* rdmsr */
	{2, 0x0f, 0x31},       /* rdtsc */
	{3, 0x0f, 0x01, 0xf9}, /* rdtscp */
	{3, 0x0f, 0x01, 0xf8}, /* swapgs */
	{3, 0x0f, 0x01, 0xc1}, /* vmcall */
	{3, 0x0f, 0x01, 0xc2}, /* vmlaunch */
	{3, 0x0f, 0x01, 0xd9}, /* vmmcall */
	{2, 0x0f, 0x06},       /* clts */
	{2, 0x0f, 0x08},       /* invd */
	{2, 0x0f, 0x09},       /* wbinvd */
	{3, 0x0f, 0x22, 0xd8}, /* mov cr3, rax */
	{3, 0x0f, 0x20, 0xc0}, /* mov rax, cr0 */
	{3, 0x0f, 0x23, 0xf8}, /* mov dr7, rax */
	{3, 0x0f, 0x01, 0x10}, /* lgdt [rax] */
	{3, 0x0f, 0x01, 0x18}, /* lidt [rax] */
	{3, 0x0f, 0x00, 0xd8}, /* ltr ax */
	{2, 0x8e, 0xd0},       /* mov ss, ax */
	{2, 0x8e, 0xd8},       /* mov ds, ax */
	{2, 0x8e, 0xe0},       /* mov fs, ax */
	{2, 0x8e, 0xe8},       /* mov gs, ax */
	{2, 0xff, 0x18},       /* call far [rax] */
	{2, 0xff, 0x28},       /* jmp far [rax] */
	{3, 0x48, 0xff, 0x28}, /* jmp far m16:64 [rax] */
	{1, 0xcb},             /* retf */
	{2, 0x48, 0xcb},       /* retfq */
	{1, 0xc3},             /* ret */
	{2, 0xff, 0xe0},       /* jmp rax */
	{2, 0xff, 0xd3},       /* call rbx */
	{2, 0xff, 0x20},       /* jmp [rax] */
	{1, 0x9b},             /* fwait (pending x87 exception: #MF) */
	{2, 0xdf, 0xe0},       /* fnstsw ax */
	{2, 0xd9, 0xe8},       /* fld1 */
	{2, 0xd9, 0xee},       /* fldz */
	{2, 0xde, 0xf9},       /* fdivp */
	{2, 0xd9, 0xfa},       /* fsqrt */
	{3, 0x0f, 0xae, 0x10}, /* ldmxcsr [rax] */
	{3, 0x0f, 0xae, 0x00}, /* fxsave [rax] */
	{3, 0x0f, 0xae, 0x08}, /* fxrstor [rax] */
	{3, 0x0f, 0x5e, 0xc1}, /* divps xmm0, xmm1 */
	{3, 0x48, 0xf7, 0xf1}, /* div rcx */
	{3, 0x48, 0xf7, 0xf9}, /* idiv rcx */
	{1, 0x9d},             /* popf */
	{1, 0x9c},             /* pushf */
	{1, 0xc8},             /* enter (imm follows randomly) */
	{1, 0xc9},             /* leave */
	{1, 0x5c},             /* pop rsp */
	{2, 0xe2, 0xfe},       /* loop $ */
	{2, 0xeb, 0xfe},       /* jmp $ */
	{2, 0x0f, 0xa2},       /* cpuid */
	{3, 0x0f, 0x01, 0xd0}, /* xgetbv */
	{3, 0x0f, 0x01, 0xca}, /* clac */
	{3, 0x0f, 0x01, 0xcb}, /* stac */
	{2, 0x0f, 0xa1},       /* pop fs */
	{2, 0x0f, 0xa9},       /* pop gs */
	{3, 0xf3, 0x48, 0xa5}, /* rep movsq */
	{3, 0xf3, 0x48, 0xab}, /* rep stosq */
	{2, 0xf2, 0xae},       /* repne scasb */
	{2, 0x0f, 0x0d},       /* prefetch group */
	{2, 0x0f, 0x1f},       /* nop r/m */
	{3, 0x0f, 0x01, 0xee}, /* rdpkru */
	{2, 0x0f, 0xc7},       /* group 9 (cmpxchg16b, rdrand, vmptrld ...) */
};

static const uint8_t prefixes[] = {0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x40, 0x41, 0x44, 0x48, 0x49, 0x4c, 0x4f, 0xc4, 0xc5, 0x62, 0x8f};

/* Register values: mostly pointers that matter (the page, the stack, the kernel half,
 * non-canonical addresses) and edges, some plainly random. */
static uint64_t random_value(uint64_t page, uint64_t stack)
{
	switch (pick(12)) {
	case 0: return 0;
	case 1: return pick(256);
	case 2: return page + pick(2 * PAGE);
	case 3: return stack - pick(512);
	case 4: return 0x0000800000000000ull + (rnd() & 0xfff);  /* first non-canonical */
	case 5: return 0x00007ffffffffff0ull + pick(32);         /* the canonical edge */
	case 6: return 0xffff800000000000ull + (rnd() & 0xffffff); /* kernel half */
	case 7: return 0xffffffffffffffffull - pick(64);
	case 8: return 0x8000000000000000ull;
	case 9: return rnd() & 0xffffffffull;
	default: return rnd();
	}
}

/* One page of code: a loader that sets the sixteen GPRs (MOV r64, imm64), then random
 * instructions up to the end of the page. */
static void fill(uint8_t *code, uint64_t page, uint64_t stack)
{
	unsigned at = 0;
	for (int r = 0; r < 16; r++) {
		uint64_t v = random_value(page, stack);
		if (r == 4 && pick(4) != 0) v = stack - 8 * pick(64); /* mostly a usable stack */
		code[at++] = 0x48 | (r >= 8 ? 1 : 0);
		code[at++] = 0xb8 + (r & 7);
		memcpy(code + at, &v, 8);
		at += 8;
	}
	/* Structured instructions for the first STRUCTURED bytes (random code rarely runs further),
	 * plain random quadwords after them (cheap to make: a child should die fast). */
	uint64_t x = rnd() | 1;
	for (unsigned i = STRUCTURED; i < PAGE; i += 8) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		memcpy(code + i, &x, 8);
	}
	while (at < STRUCTURED) {
		unsigned k = pick(10);
		if (k < 3) { /* plain random bytes */
			unsigned n = 1 + pick(8);
			while (n-- > 0 && at < PAGE) code[at++] = (uint8_t)rnd();
		} else if (k < 5) { /* a special instruction, sometimes behind a prefix */
			const uint8_t *s = specials[pick(sizeof specials / sizeof specials[0])];
			if (pick(4) == 0 && at < PAGE) code[at++] = prefixes[pick(sizeof prefixes)];
			for (unsigned i = 1; i <= s[0] && at < PAGE; i++) code[at++] = s[i];
		} else if (k < 7) { /* prefixes, an opcode, a ModRM (+ SIB, displacement) */
			unsigned n = pick(4);
			while (n-- > 0 && at < PAGE) code[at++] = prefixes[pick(sizeof prefixes)];
			if (pick(3) == 0 && at < PAGE) code[at++] = 0x0f;
			if (at < PAGE) code[at++] = (uint8_t)rnd();
			uint8_t modrm = (uint8_t)rnd();
			if (at < PAGE) code[at++] = modrm;
			unsigned extra = ((modrm & 7) == 4 && (modrm >> 6) != 3) + ((modrm >> 6) == 1) + 4 * ((modrm >> 6) == 2);
			while (extra-- > 0 && at < PAGE) code[at++] = (uint8_t)rnd();
		} else if (k < 8) { /* a short branch, forwards or backwards */
			if (at < PAGE) code[at++] = pick(2) ? 0xeb : (uint8_t)(0x70 + pick(16));
			if (at < PAGE) code[at++] = (uint8_t)(pick(2) ? (int)pick(32) : -(int)pick(32));
		} else if (k < 9) { /* x87 */
			if (at < PAGE) code[at++] = (uint8_t)(0xd8 + pick(8));
			if (at < PAGE) code[at++] = (uint8_t)rnd();
		} else { /* an SSE-ish 66/F2/F3 0F op */
			if (at < PAGE) code[at++] = (uint8_t[]){0x66, 0xf2, 0xf3, 0x48}[pick(4)];
			if (at < PAGE) code[at++] = 0x0f;
			if (at < PAGE) code[at++] = (uint8_t)(0x10 + pick(0xf0));
			if (at < PAGE) code[at++] = (uint8_t)rnd();
		}
	}
}

static void handler(int sig)
{
	/* A handler ran: the signal frame was built. Leave with a recognisable status. */
	raw6(SYS_exit_group, 100 + sig, 0, 0, 0, 0, 0);
}

struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

/* ITIMER_REAL, 20 µs, one shot: SIGALRM (its default action, which libDune's dune_init turned
 * into SIG_IGN in --mode dune) ends random code that loops. */
static void arm_alarm(void)
{
	struct ksigaction dfl = {0, 0, 0, 0};
	raw6(SYS_rt_sigaction, 14, (long)&dfl, 0, 8, 0, 0);
	long it[4] = {0, 0, 0, 20};
	raw6(SYS_setitimer, 0, (long)it, 0, 0, 0, 0);
}

/* Runs one page of random code; never returns. */
static void run_random(void)
{
	long p = raw6(SYS_mmap, 0, 3 * PAGE, 7 /* RWX */, 0x22 /* MAP_PRIVATE|ANONYMOUS */, -1, 0);
	if (p < 0 && p > -4096) {
		printf("fuzzcode: mmap failed (%ld)\n", p);
		raw6(SYS_exit_group, 99, 0, 0, 0, 0, 0);
	}
	uint8_t *code = (uint8_t *)p;
	/* The second page is data (a little of it random), the third a stack for the random code. */
	for (int i = 0; i < 128; i += 8) {
		uint64_t v = rnd();
		memcpy(code + PAGE + i, &v, 8);
	}
	uint64_t stack = (uint64_t)p + 3 * PAGE - 64;
	fill(code, (uint64_t)p, stack);
	/* A quarter of the children have handlers, so signal frames get built on whatever RSP the
	 * random code left (a bad stack must become SIGSEGV, never a kernel fault). */
	if (pick(4) == 0) {
		struct ksigaction sa = {handler, 0x04000000 /* SA_RESTORER */, 0, 0};
		int sigs[] = {4, 5, 7, 8, 11};
		for (int i = 0; i < 5; i++) raw6(SYS_rt_sigaction, sigs[i], (long)&sa, 0, 8, 0, 0);
	}
	/* x87 control word and MXCSR with random masks: unmasked exceptions reach #MF and #XM. */
	uint16_t fcw = (uint16_t)(0x037f & ~(pick(2) ? (rnd() & 0x3f) : 0));
	uint32_t mxcsr = (uint32_t)(0x1f80 & ~(pick(2) ? (rnd() & 0x1f80) : 0)) | (uint32_t)(rnd() & 0x6000);
	__asm__ volatile("fldcw %0" ::"m"(fcw));
	__asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
	((void (*)(void))code)();
	raw6(SYS_exit_group, 98, 0, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], 0, 0) : 1;
	long count = argc > 2 ? strtol(argv[2], 0, 0) : 100;
	int inline_mode = argc > 3 && strcmp(argv[3], "inline") == 0;
	state = 0x9e3779b97f4a7c15ull ^ (seed * 0x100000001b3ull);
	if (state == 0) state = 1;
	for (int i = 0; i < 8; i++) rnd();
	if (inline_mode) {
		printf("fuzzcode: seed %lu inline\n", seed);
		fflush(stdout);
		/* The random code must neither read the terminal nor write into the output. */
		for (int fd = 0; fd < 3; fd++) raw6(SYS_close, fd, 0, 0, 0, 0, 0);
		arm_alarm();
		run_random();
	}
	long bysig[65] = {0};
	long exited = 0, other = 0;
	for (long i = 0; i < count; i++) {
		rnd(); /* each child gets its own stream */
		long pid = raw6(SYS_fork, 0, 0, 0, 0, 0, 0);
		if (pid < 0) {
			printf("fuzzcode: fork failed (%ld) after %ld children\n", pid, i);
			count = i;
			break;
		}
		if (pid == 0) {
			/* The random code must not write into the parent's output. */
			raw6(SYS_close, 0, 0, 0, 0, 0, 0);
			raw6(SYS_close, 1, 0, 0, 0, 0, 0);
			raw6(SYS_close, 2, 0, 0, 0, 0, 0);
			arm_alarm();
			run_random();
		}
		int status = 0;
		long r = raw6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
		if (r != pid) {
			printf("fuzzcode: wait4 returned %ld for child %ld\n", r, pid);
			other++;
		} else if ((status & 0x7f) == 0) {
			exited++;
		} else if ((status & 0xff) != 0x7f) {
			bysig[status & 0x7f]++;
		} else {
			other++;
		}
	}
	static const char *names[65] = {[4] = "SIGILL", [5] = "SIGTRAP", [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [11] = "SIGSEGV", [13] = "SIGPIPE", [14] = "SIGALRM", [6] = "SIGABRT"};
	printf("fuzzcode: ran %ld children:", count);
	for (int s = 1; s < 65; s++)
		if (bysig[s]) {
			if (names[s]) printf(" %s %ld", names[s], bysig[s]);
			else printf(" SIG%d %ld", s, bysig[s]);
		}
	printf(" exited %ld other %ld\n", exited, other);
	return 0;
}
