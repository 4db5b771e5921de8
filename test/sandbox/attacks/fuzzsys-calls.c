/*
 * fuzzsys-calls: a seeded, deterministic random system-call fuzzer (test/sandbox/fuzzsys-calls.test.ts).
 *
 *   fuzzsys-calls SEED CALLS PORT_OK PORT_DENIED [trusted]
 *
 * Makes CALLS raw system calls, mostly numbers the model implements, some it does not (negative,
 * above 512, with high bits), with arguments drawn from classes an attacker would try: small ints,
 * descriptors (its own, closed, huge, negative, with high 32 bits set), pointers into its own
 * memory, NULL, unmapped, kernel-half, non-canonical, into the sandbox runtime's memory (its code,
 * its stack, libDune's code and page pool), lengths huge and off by one; now and then the high
 * 32 bits of any argument are set.
 *
 * It must outlive every call it makes, so the calls that would end or wedge it are left out or
 * tamed (each place says how): exit and exit_group, rt_sigreturn, fatal signals to itself, a
 * timeout that is not zero, a descriptor that blocks (every descriptor it gets is made
 * O_NONBLOCK), FUTEX_WAIT on the value that is there, munmap / mprotect / MAP_FIXED on its own
 * code, data or stack (memory calls get addresses in a zone of their own, or bad ones), a handler
 * that is not SIG_IGN, an FS base it did not set. Network addresses come from a fixed list on
 * loopback (PORT_OK, PORT_DENIED, port 0), so no real host port is taken or reached by chance.
 *
 * At the end it prints "fuzzsys: calls N" and the lines the test reads: "secret-read N" counts
 * reads that returned the bytes of /secret (a file outside the scratch directory, which a policy
 * run must never read).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "attack.h"

typedef unsigned long u64;
#ifndef FORKW
#define FORKW 1
#endif

/* ---- the random stream: xorshift64*, seeded from argv ---------------------------------------- */
static u64 rs;
static u64 rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545F4914F6CDD1DUL;
}
static u64 below(u64 n) { return rnd() % n; }
static int chance(int one_in) { return below(one_in) == 0; }

/* ---- memory the fuzzer owns ---------------------------------------------------------------- */
#define PAGE 4096UL
#define ZONE_PAGES 16UL
/* The zone: ZONE_PAGES read-write pages between two PROT_NONE guard pages. Pointer arguments
 * into "own memory" land here, and the memory calls (munmap, mprotect, mremap, MAP_FIXED) may
 * only touch it, so the fuzzer's own code, data and stack stay as they are. */
static u64 zone;
/* The reserve the memory calls may touch: fixed, 4 GiB below the stack top (inside the sandbox's
 * mmap window, far from the mappings the kernel places top-down from mmap_base). */
#define RESERVE 0x7fff00000000UL
#define RESERVE_PAGES 64UL
/* A page of zeroes for every timeout (re-zeroed before each use): a timeout is always 0. */
static u64 zero_page;
/* Structures the fuzzer hands over whole: a struct sigaction with SIG_IGN, an fd set, iovecs. */
static u64 fixed_page;
static u64 fs_base; /* the FS base musl set (TLS): put back after every arch_prctl */

#define ZONE_LEN (ZONE_PAGES * PAGE)

/* Whether [p, p + n) lies in [base, base + len): written so that no sum wraps (p may be -1). */
static int inside(u64 p, u64 n, u64 base, u64 len)
{
	return p >= base && p - base <= len && len - (p - base) >= n;
}


/* Addresses that are not the program's: the sandbox runtime's (plugins/sandbox/README.md,
 * runtime-regions.ts), the kernel half, non-canonical, unmapped. */
static const u64 bad_ptrs[] = {
	0x70000000UL,            /* the runtime's code */
	0x70000ff8UL,
	0x70100000UL,            /* the runtime's stack, bottom */
	0x7013ff00UL,            /* the runtime's stack, near the top (live frames) */
	0x7013fff8UL,
	0xbf000000UL,            /* libDune's code */
	0xc0000000UL,            /* libDune's page pool: the root page table */
	0xc0001000UL,
	0xc0005000UL,            /* GDT / IDT / TSS pages are early in the pool */
	0xc0006000UL,
	0xc0007000UL,
	0xc0008000UL,
	0xc3fff000UL,            /* the end of the pool */
	0x200000000UL,           /* Dune's 8 GiB windows */
#define NRUNTIME 14 /* the entries above are the sandbox runtime's (libDune's own in --mode dune) */
	0x6ffffff8UL,            /* the last bytes of the ELF window */
	0x0UL + 0x10,            /* near NULL */
	0x1000UL,
	0xffff880000000000UL,    /* kernel half */
	0xffffffff81000000UL,
	0xfffffffffffff000UL,
	0xffffffffffffffffUL,
	0x0000800000000000UL,    /* the first non-canonical address */
	0x00007ffffffff000UL,    /* the last user page */
	0x0123456789abcdefUL,
	0x8000000000000000UL,
};
#define NBAD (sizeof bad_ptrs / sizeof bad_ptrs[0])

/* ---- descriptors ---------------------------------------------------------------------------- */
#define MAXFD 64
static int fds[MAXFD], nfds;
static int closed_fds[MAXFD], nclosed;
static int scratch_dirfd = -1;
static long maxfd = 2; /* the highest descriptor seen */

static void set_nonblock(long fd)
{
	/* F_SETFL O_NONBLOCK: a read, accept or recv on it can never block the fuzzer. */
	raw6(72, fd, 4, 04000, 0, 0, 0);
}

static void add_fd(long fd)
{
	if (fd < 0 || fd == 1 || fd == 2 || fd >= 1 << 20)
		return; /* 0 is the fuzzer's to reuse (closed at the start); 1 and 2 are its output */
	set_nonblock(fd);
	if (fd > maxfd)
		maxfd = fd;
	for (int i = 0; i < nfds; i++)
		if (fds[i] == fd)
			return;
	if (nfds < MAXFD)
		fds[nfds++] = (int)fd;
	else
		fds[below(MAXFD)] = (int)fd;
}

static void drop_fd(long fd)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] == fd) {
			fds[i] = fds[--nfds];
			if (nclosed < MAXFD)
				closed_fds[nclosed++] = (int)fd;
			return;
		}
	}
}

/* ---- argument classes ----------------------------------------------------------------------- */
static u64 high_bits(void) { return (rnd() | 1) << 32; }

static u64 a_int(void)
{
	switch (below(10)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return below(4);
	case 3: return (u64)-1;
	case 4: return below(256);
	case 5: return (uint32_t)rnd();
	case 6: return rnd();
	case 7: return 0x80000000UL;
	case 8: return 0x100000000UL | below(4);
	default: return 1UL << below(64);
	}
}

/* A descriptor: never 1 or 2 (its stdout and stderr), whose numbers it keeps to itself. */
static u64 a_fd(void)
{
	switch (below(12)) {
	case 0: case 1: case 2: case 3: case 4:
		return nfds > 0 ? (u64)fds[below(nfds)] : 0;
	case 5: return nclosed > 0 ? (u64)closed_fds[below(nclosed)] : 63;
	case 6: return 0;
	case 7: return (u64)-1;
	case 8: return (u64)-100; /* AT_FDCWD */
	case 9: return below(2) ? 0x7fffffffUL : (1UL << 20) + below(8);
	case 10: return nfds > 0 ? (u64)fds[below(nfds)] | high_bits() : 0x100000000UL;
	default: return 3 + below(60);
	}
}

/* A pointer that is not the program's. Under --mode dune the program is trusted ring-0 code whose
 * own memory libDune's page tables are: it is not pointed at them ("trusted" on the command line). */
static int trusted;
static u64 bad_ptr(void)
{
	return trusted ? bad_ptrs[NRUNTIME + below(NBAD - NRUNTIME)] : bad_ptrs[below(NBAD)];
}

static u64 a_ptr(void)
{
	switch (below(16)) {
	case 0: return 0;
	case 1: case 2: case 3: case 4: case 5: return zone + below(ZONE_LEN);
	case 6: return zone + (below(ZONE_LEN) & ~7UL);
	case 7: return zone + ZONE_LEN - 1 - below(16); /* runs into the guard page */
	case 8: return zone - 1 - below(8);             /* starts in the guard page below */
	case 9: return (zone + below(ZONE_LEN)) | high_bits();
	case 10: return (zone + below(ZONE_LEN)) + (1UL << (32 + below(16)));
	case 11: return fixed_page + below(PAGE);
	default: return bad_ptr() + (chance(4) ? below(PAGE) : 0);
	}
}

static u64 a_len(void)
{
	switch (below(14)) {
	case 0: return 0;
	case 1: return 1;
	case 2: case 3: return below(512);
	case 4: return PAGE - 1 + below(3);
	case 5: return ZONE_LEN - below(2);
	case 6: return ZONE_LEN + 1;
	case 7: return (u64)-1;
	case 8: return 0x7fffffffffffffffUL;
	case 9: return 0x80000000UL + below(2);
	case 10: return 1UL << (32 + below(16));
	case 11: return rnd();
	case 12: return (u64)-below(0x10000);
	default: return below(64);
	}
}

/* Paths: the names the policy judges, and broken strings. */
#define LONG_PATH_LEN 4200
static char long_path[LONG_PATH_LEN + 1];
static char max_path[4096];
static const char *const paths[] = {
	"/scratch/a", "/scratch/b", "/scratch/sub", "/scratch/sub/c", "/scratch/link", "/scratch/dirlink",
	"/scratch/../secret", "/secret", "/ro", "/ro/file", "/etc/passwd", "../../secret", "../secret",
	"a", "sub/c", "", ".", "..", "/", "/scratch", "/scratch/", "/scratch//a", "/scratch/./b",
	"/dev/dune", "/proc/self/mem", "/scratch/a/", "/new", "/scratch/sub/../../ro/file",
	"/scratch/\xff\xfe", "link", "dirlink",
};
#define NPATHS (sizeof paths / sizeof paths[0])

static u64 a_path(void)
{
	switch (below(12)) {
	case 0: return (u64)long_path;
	case 1: return (u64)max_path;
	case 2: return zone + ZONE_LEN - 1 - below(4); /* no NUL before the guard page */
	case 3: return a_ptr();
	default: return (u64)paths[below(NPATHS)];
	}
}

/* Symlink targets: anything, as text. */
static u64 a_target(void)
{
	static const char *const t[] = { "/secret", "../secret", "/ro/file", "/scratch/a", "a", "/", "..", "/etc/passwd" };
	return below(4) == 0 ? a_path() : (u64)t[below(sizeof t / sizeof t[0])];
}

/* struct sockaddr_in (and others) on loopback only; read-only data, so the kernel cannot write them. */
struct sa {
	unsigned short family;
	unsigned char port[2];
	unsigned char addr[4];
	unsigned char zero[8];
	unsigned char pad[112];
};
static struct sa sockaddrs[8];
static u64 a_sockaddr(void)
{
	if (below(5) == 0)
		return a_ptr();
	return (u64)&sockaddrs[below(8)];
}
static u64 a_socklen(void)
{
	static const u64 l[] = { 16, 16, 16, 0, 1, 2, 8, 15, 17, 128, 129, 0xffffffffUL, 0x100000010UL, (u64)-16 };
	return l[below(sizeof l / sizeof l[0])];
}

/* A timeout: the zero page (re-zeroed), or a pointer that is not NULL (NULL would mean forever). */
static u64 a_timeout(void)
{
	memset((void *)zero_page, 0, 64);
	if (below(4) == 0) {
		u64 p = a_ptr();
		/* Only pointers that cannot hold a non-zero timeout: not the zone (random bytes). */
		if (p != 0 && !inside(p, 1, zone, ZONE_LEN))
			return p;
	}
	return zero_page + (below(4) == 0 ? 8 * below(4) : 0);
}

static u64 a_high(u64 x) { return chance(16) ? x | high_bits() : x; }

/* ---- the call table -------------------------------------------------------------------------- */
/* Argument kinds: i int, f fd, p pointer, l length, P path, S sockaddr, L socklen, T timeout
 * pointer, 0 zero, x anything, g target of a symlink. */
struct call {
	int nr;
	const char *args;
	int weight;
};
static const struct call calls[] = {
	{ 0, "fpl", 6 },     /* read */
	{ 1, "fpl", 6 },     /* write */
	{ 2, "Pii", 6 },     /* open */
	{ 3, "f", 6 },       /* close */
	{ 4, "Pp", 3 },      /* stat */
	{ 5, "fp", 3 },      /* fstat */
	{ 6, "Pp", 3 },      /* lstat */
	{ 7, "pi0", 3 },     /* poll: timeout 0 */
	{ 8, "fxi", 3 },     /* lseek */
	{ 9, "plixfx", 5 },  /* mmap (address and flags tamed below) */
	{ 10, "pli", 4 },    /* mprotect (address tamed) */
	{ 11, "pl", 4 },     /* munmap (address tamed) */
	{ 12, "x", 3 },      /* brk */
	{ 13, "ipp8", 3 },   /* rt_sigaction (act tamed) */
	{ 14, "ippi", 3 },   /* rt_sigprocmask */
	{ 16, "fip", 4 },    /* ioctl */
	{ 17, "fplx", 4 },   /* pread64 */
	{ 18, "fplx", 4 },   /* pwrite64 */
	{ 19, "fpi", 4 },    /* readv */
	{ 20, "fpi", 4 },    /* writev */
	{ 21, "Pi", 3 },     /* access */
	{ 22, "p", 2 },      /* pipe */
	{ 23, "ipppT", 2 },  /* select */
	{ 24, "", 1 },       /* sched_yield */
	{ 25, "plliip", 3 }, /* mremap (addresses tamed) */
	{ 28, "pli", 3 },    /* madvise (address tamed) */
	{ 32, "f", 3 },      /* dup */
	{ 33, "ff", 3 },     /* dup2 */
	{ 35, "Tp", 2 },     /* nanosleep */
	{ 39, "", 1 },       /* getpid */
	{ 41, "iii", 4 },    /* socket */
	{ 42, "fSL", 4 },    /* connect */
	{ 43, "fpp", 2 },    /* accept */
	{ 44, "fpliSL", 3 }, /* sendto */
	{ 45, "fplipp", 3 }, /* recvfrom */
	{ 48, "fi", 2 },     /* shutdown */
	{ 49, "fSL", 3 },    /* bind */
	{ 50, "fi", 2 },     /* listen */
	{ 51, "fpp", 2 },    /* getsockname */
	{ 52, "fpp", 2 },    /* getpeername */
	{ 54, "fiipl", 2 },  /* setsockopt */
	{ 55, "fiipp", 2 },  /* getsockopt */
	{ 56, "i00p0", FORKW },  /* clone (flags tamed: no CLONE_VM, no stack) */
	{ 57, "", FORKW },       /* fork */
	{ 58, "", FORKW },       /* vfork */
	{ 61, "xpip", 2 },   /* wait4 (WNOHANG forced) */
	{ 62, "xk", 2 },     /* kill (signal tamed) */
	{ 63, "p", 2 },      /* uname */
	{ 72, "fip", 4 },    /* fcntl (F_SETFL keeps O_NONBLOCK) */
	{ 74, "f", 1 },      /* fsync */
	{ 75, "f", 1 },      /* fdatasync */
	{ 76, "Px", 2 },     /* truncate */
	{ 77, "fx", 2 },     /* ftruncate */
	{ 78, "fpl", 3 },    /* getdents */
	{ 79, "pl", 2 },     /* getcwd */
	{ 80, "P", 2 },      /* chdir */
	{ 81, "f", 2 },      /* fchdir */
	{ 82, "PP", 3 },     /* rename */
	{ 83, "Pi", 3 },     /* mkdir */
	{ 84, "P", 2 },      /* rmdir */
	{ 87, "P", 3 },      /* unlink */
	{ 88, "gP", 3 },     /* symlink */
	{ 89, "Ppl", 3 },    /* readlink */
	{ 95, "i", 1 },      /* umask */
	{ 96, "pp", 1 },     /* gettimeofday */
	{ 97, "ip", 1 },     /* getrlimit */
	{ 101, "ixpp", 2 },  /* ptrace (request tamed) */
	{ 102, "", 1 }, { 104, "", 1 }, { 107, "", 1 }, { 108, "", 1 }, { 110, "", 1 },
	{ 131, "pp", 2 },    /* sigaltstack */
	{ 158, "ip", 2 },    /* arch_prctl (FS put back) */
	{ 160, "ip", 1 },    /* setrlimit */
	{ 186, "", 1 },      /* gettid */
	{ 200, "xk", 1 },    /* tkill (signal tamed) */
	{ 201, "p", 1 },     /* time */
	{ 202, "pixTpi", 2 },/* futex (value tamed) */
	{ 204, "xlp", 2 },   /* sched_getaffinity */
	{ 213, "i", 1 },     /* epoll_create */
	{ 217, "fpl", 3 },   /* getdents64 */
	{ 218, "p", 1 },     /* set_tid_address */
	{ 228, "ip", 1 },    /* clock_gettime */
	{ 229, "ip", 1 },    /* clock_getres */
	{ 230, "iiTp", 2 },  /* clock_nanosleep */
	{ 232, "fpi0", 2 },  /* epoll_wait: timeout 0 */
	{ 233, "fifp", 3 },  /* epoll_ctl */
	{ 234, "xxk", 1 },   /* tgkill (signal tamed) */
	{ 257, "fPii", 5 },  /* openat */
	{ 258, "fPi", 2 },   /* mkdirat */
	{ 262, "fPpi", 3 },  /* newfstatat */
	{ 263, "fPi", 2 },   /* unlinkat */
	{ 264, "fPfP", 2 },  /* renameat */
	{ 266, "gfP", 2 },   /* symlinkat */
	{ 267, "fPpl", 2 },  /* readlinkat */
	{ 269, "fPi", 2 },   /* faccessat */
	{ 270, "ipppTp", 2 },/* pselect6 */
	{ 271, "piTpl", 2 }, /* ppoll */
	{ 273, "pl", 1 },    /* set_robust_list */
	{ 281, "fpi0pl", 2 },/* epoll_pwait: timeout 0 */
	{ 288, "fppi", 2 },  /* accept4 */
	{ 291, "i", 1 },     /* epoll_create1 */
	{ 292, "ffi", 2 },   /* dup3 */
	{ 293, "pi", 2 },    /* pipe2 */
	{ 302, "xipp", 1 },  /* prlimit64 */
	{ 316, "fPfPi", 2 }, /* renameat2 */
	{ 318, "pli", 2 },   /* getrandom */
	{ 334, "plii", 1 },  /* rseq */
	{ 439, "fPii", 2 },  /* faccessat2 */
};
#define NCALLS (sizeof calls / sizeof calls[0])
/* One entry per unit of weight: a call is picked with one random number, not a walk of the table. */
#define MAXWEIGHT 512
static unsigned char pick[MAXWEIGHT];
static int total_weight;

/* Numbers that end the fuzzer, or whose arguments the table tames: never made at random. */
static int known(long nr)
{
	if (nr == 15 || nr == 59 || nr == 60 || nr == 231 || nr == 34 || nr == 322 || nr == 37 || nr == 38)
		return 1; /* rt_sigreturn, execve, exit, exit_group, pause, execveat, alarm and setitimer (SIGALRM) */
	for (unsigned i = 0; i < NCALLS; i++)
		if (calls[i].nr == nr)
			return 1;
	return 0;
}

/* A number outside the table: unknown to the model (or to the sandbox), out of range, negative,
 * with high bits. Linux takes the number as an int (do_syscall_64), so a high-bit number keeps a
 * harmless low half (getpid), in case it is truncated. */
static long random_nr(void)
{
	for (;;) {
		long nr;
		switch (below(6)) {
		case 0: nr = (long)below(450); break;
		case 1: nr = 512 + (long)below(600); break;
		case 2: nr = -(long)below(1000) - 1; break;
		case 3: nr = (long)(high_bits() | 39); break;
		case 4: nr = 0x40000000L | (long)below(547); break; /* the x32 bit */
		default: nr = (long)rnd(); if ((int)nr == 60 || (int)nr == 231 || (int)nr == 15 || (int)nr == 34 || (int)nr == 37 || (int)nr == 38) continue; break;
		}
		if (nr >= 0 && nr < 1024 && known(nr))
			continue;
		if ((nr & 0x40000000L) && nr > 0 && nr < 0x80000000L && known(nr & 0xffff))
			continue;
		return nr;
	}
}

static u64 arg_of(char k)
{
	switch (k) {
	case 'i': return a_high(a_int());
	case 'f': return a_high(a_fd());
	case 'p': return a_high(a_ptr());
	case 'l': return a_high(a_len());
	case 'P': return a_high(a_path());
	case 'S': return a_high(a_sockaddr());
	case 'L': return a_high(a_socklen());
	case 'T': return a_timeout();
	case 'g': return a_target();
	case '0': return 0;
	case '8': return below(8) ? 8 : a_int();
	case 'k': return 0;
	default: return a_high(rnd());
	}
}

/* A memory-call address: in the reserve (anywhere, unaligned too), or one that is not the
 * program's. Its length keeps [addr, addr + len) in the reserve, or is too large for any address
 * space: so nothing but the reserve can be unmapped, moved or protected. */
static u64 mem_addr(void)
{
	if (below(3) == 0)
		return bad_ptr();
	if (below(16) == 0)
		return 0;
	return RESERVE + (below(RESERVE_PAGES - ZONE_PAGES) * PAGE) + (below(8) == 0 ? below(PAGE) : 0);
}

static u64 mem_len(void)
{
	static const u64 huge[] = { 0, (u64)-1, 1UL << 47, 1UL << 63, 0x7fffffffffffffffUL, (u64)-PAGE, 0x800000000000UL + PAGE };
	if (below(4) == 0)
		return below(2) ? huge[below(sizeof huge / sizeof huge[0])] : rnd() | (1UL << 47);
	return (1 + below(ZONE_PAGES)) * PAGE - (below(8) == 0 ? 1 : 0);
}

/* The zone again: read-write pages between guard pages at the same place. */
static void restore_zone(void)
{
	raw6(9, RESERVE, RESERVE_PAGES * PAGE, 0, 0x32 /* MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED */, -1, 0);
	raw6(10, zone, ZONE_LEN, 3, 0, 0, 0);
}

static u64 secret_reads;
static const char SECRET[] = "S3CR3T-fuzzsys";

static void check_secret(u64 buf, long n)
{
	if (n < (long)sizeof SECRET - 1 || !inside(buf, 1, zone, ZONE_LEN))
		return;
	if ((u64)n > zone + ZONE_LEN - buf)
		n = (long)(zone + ZONE_LEN - buf);
	if (memmem((void *)buf, (size_t)n, SECRET, sizeof SECRET - 1) != NULL)
		secret_reads++;
}

static void say(const char *s)
{
	raw6(1, 1, (long)s, (long)strlen(s), 0, 0, 0);
}

static u64 parse(const char *s)
{
	u64 v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (u64)(*s++ - '0');
	return v;
}

static void init_sockaddrs(unsigned port_ok, unsigned port_denied)
{
	static const unsigned char lo[4] = { 127, 0, 0, 1 }, any[4] = { 0, 0, 0, 0 }, far[4] = { 10, 1, 2, 3 };
	const struct { unsigned short fam; unsigned port; const unsigned char *addr; } s[8] = {
		{ 2, port_ok, lo }, { 2, port_ok, lo }, { 2, port_denied, lo }, { 2, 0, lo },
		{ 2, 0, any }, { 2, 80, far }, { 10, port_ok, lo }, { 1, 0, lo },
	};
	for (int i = 0; i < 8; i++) {
		sockaddrs[i].family = s[i].fam;
		sockaddrs[i].port[0] = (unsigned char)(s[i].port >> 8);
		sockaddrs[i].port[1] = (unsigned char)s[i].port;
		memcpy(sockaddrs[i].addr, s[i].addr, 4);
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		say("usage: fuzzsys-calls SEED CALLS PORT_OK PORT_DENIED [trusted]\n");
		return 2;
	}
	rs = parse(argv[1]) * 2654435761UL + 0x9e3779b97f4a7c15UL;
	u64 n = parse(argv[2]);
	init_sockaddrs((unsigned)parse(argv[3]), (unsigned)parse(argv[4]));
	trusted = argc > 5 && strcmp(argv[5], "trusted") == 0;
	for (unsigned i = 0; i < NCALLS; i++)
		for (int w = 0; w < calls[i].weight && total_weight < MAXWEIGHT; w++)
			pick[total_weight++] = (unsigned char)i;
	memset(long_path, 'a', LONG_PATH_LEN);
	long_path[0] = '/';
	memcpy(max_path, "/scratch/", 9);
	memset(max_path + 9, 'b', sizeof max_path - 10);

	/* fd 0 is closed: a read of the console would wait for the host's stdin. */
	raw6(3, 0, 0, 0, 0, 0, 0);
	zone = RESERVE + PAGE;
	restore_zone();
	zero_page = (u64)raw6(9, RESERVE + 0x10000000UL, 2 * PAGE, 3, 0x32, -1, 0);
	fixed_page = zero_page + PAGE;
	raw6(158, 0x1003 /* ARCH_GET_FS */, (long)&fs_base, 0, 0, 0, 0);
	/* SIGPIPE ignored, as libDune leaves it in the sandbox: a write to a closed pipe is -EPIPE. */
	u64 *act = (u64 *)fixed_page;
	act[0] = 1; /* SIG_IGN */
	raw6(13, 13, (long)act, 0, 8, 0, 0);
	for (unsigned i = 0; i < ZONE_LEN; i += 8)
		*(u64 *)(zone + i) = rnd();

	/* Descriptors to start from: the scratch directory, a file in it, a pipe, sockets, an epoll. */
	raw6(83, (long)"/scratch/sub", 0755, 0, 0, 0, 0);
	scratch_dirfd = (int)raw6(2, (long)"/scratch", 0200000 /* O_DIRECTORY */, 0, 0, 0, 0);
	add_fd(scratch_dirfd);
	raw6(80, (long)"/scratch", 0, 0, 0, 0, 0);
	add_fd(raw6(2, (long)"/scratch/a", 0102 /* O_RDWR|O_CREAT */, 0644, 0, 0, 0));
	int pfd[2] = { -1, -1 };
	if (raw6(293, (long)pfd, 04000, 0, 0, 0, 0) == 0) {
		add_fd(pfd[0]);
		add_fd(pfd[1]);
	}
	add_fd(raw6(41, 2, 1 | 04000, 0, 0, 0, 0));
	add_fd(raw6(41, 2, 2 | 04000, 0, 0, 0, 0));
	add_fd(raw6(291, 0, 0, 0, 0, 0, 0));

	u64 made = 0;
	for (u64 i = 0; i < n; i++) {
		if ((i & 255) == 255)
			restore_zone();
		if (below(8) == 0) {
			/* A number outside the table, with arguments of any kind. */
			raw6(random_nr(), (long)a_ptr(), (long)a_int(), (long)a_len(), (long)a_fd(), (long)rnd(), (long)a_ptr());
			made++;
			continue;
		}
		const struct call *c = &calls[pick[below((u64)total_weight)]];
		u64 a[6] = { 0, 0, 0, 0, 0, 0 };
		for (int k = 0; c->args[k] != '\0'; k++)
			a[k] = arg_of(c->args[k]);
		switch (c->nr) {
		case 9: /* mmap: MAP_FIXED only in the zone or on memory that is not the program's */
			a[0] = mem_addr();
			a[1] = mem_len();
			a[3] &= ~0x10UL; /* MAP_FIXED */
			a[3] &= ~0x8000UL; /* MAP_POPULATE of a huge length is the host's time, not a finding */
			if (below(3) == 0)
				a[3] |= 0x10;
			if (below(2))
				a[3] = (a[3] & ~0xfUL) | (below(2) ? 0x22 : 0x02);
			break;
		case 10: case 11: case 28: /* mprotect, munmap, madvise */
			a[0] = mem_addr();
			a[1] = mem_len();
			break;
		case 25: /* mremap */
			a[0] = mem_addr();
			a[1] = mem_len();
			a[2] = mem_len();
			a[3] = below(4) | (below(8) == 0 ? a_int() : 0);
			a[4] = mem_addr();
			break;
		case 13: /* rt_sigaction: the only handler the fuzzer passes is SIG_IGN */
			*(u64 *)fixed_page = 1;
			{
				/* act: SIG_IGN, NULL, or memory the kernel cannot read (never bytes that would
				 * make a handler of them). */
				static const u64 act_ptrs[] = { 0, 0xffff880000000000UL, 0x0000800000000000UL, 0x8000000000000000UL, (u64)-1 };
				a[1] = below(2) ? fixed_page : act_ptrs[below(5)];
			}
			break;
		case 7: case 232: case 281: /* poll, epoll_wait, epoll_pwait: timeout 0 */
			a[c->nr == 7 ? 2 : 3] = chance(8) ? high_bits() : 0;
			break;
		case 202: /* futex: the timeout (argument 3) is never NULL, so no wait lasts (FUTEX_WAIT
			   * of the value that is there returns -ETIMEDOUT at once); the word is not read
			   * here, since the fuzzer's own calls may have unmapped it */
			break;
		case 62: case 200: case 234: { /* kill, tkill, tgkill: no signal that ends or stops it */
			static const u64 sigs[] = { 0, 0, 17, 23, 28, 65, (u64)-1, 0x100000000UL, 0x100000011UL };
			a[c->nr == 234 ? 2 : 1] = sigs[below(sizeof sigs / sizeof sigs[0])];
			break;
		}
		case 61: /* wait4: WNOHANG */
			a[2] |= 1;
			break;
		case 56: { /* clone: no flags, and an exit signal the fuzzer survives (the child's exit
			    * sends it to the fuzzer: a signal whose default action kills would end the run) */
			static const u64 exit_sigs[] = { 0, 17, 23, 28 };
			a[0] = exit_sigs[below(4)];
			break;
		}
		case 101: { /* ptrace: never PTRACE_TRACEME (it would stop at every signal) */
			static const u64 req[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 24, 31, 0x4200, 0x4206, 0x4207, 0x4208, 999 };
			a[0] = req[below(sizeof req / sizeof req[0])];
			if (chance(4))
				a[1] = (u64)raw6(39, 0, 0, 0, 0, 0, 0);
			break;
		}
		case 72: /* fcntl: F_SETFL keeps O_NONBLOCK */
			if ((uint32_t)a[1] == 4)
				a[2] |= 04000;
			break;
		case 16: /* ioctl FIONBIO: a non-zero int (or a pointer it cannot read) */
			if (below(2))
				a[1] = 0x5401 + below(0x51);
			if ((uint32_t)a[1] == 0x5421 && (inside(a[2], 1, zone, ZONE_LEN) || inside(a[2], 1, fixed_page, PAGE))) {
				a[2] = fixed_page + 64;
				*(uint32_t *)a[2] = 1;
			}
			break;
		case 19: case 20: { /* readv, writev: an iovec array in the fixed page, buffers of any class */
			if (below(3)) {
				u64 *iov = (u64 *)(fixed_page + 128);
				for (int k = 0; k < 8; k++) {
					iov[2 * k] = a_ptr();
					iov[2 * k + 1] = a_len();
				}
				a[1] = (u64)iov;
				a[2] = below(10);
			}
			break;
		}
		case 158: /* arch_prctl */
			if (below(2))
				a[0] = 0x1001 + below(4);
			/* Under --mode dune too: libDune's trampoline no longer finds its per-CPU area
			 * through a GS base the program can set, and a VMCALL'd ARCH_SET_FS reaches the
			 * guest's FS; the fuzzer puts its own FS base back right after. */
			break;
		}
		long r = raw6(c->nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
		/* The child ends at once, before it touches anything: a vfork child shares the
		 * parent's memory (and stack), so even its count would be the parent's. */
		if (r == 0 && (c->nr == 56 || c->nr == 57 || c->nr == 58))
			raw6(231, 0, 0, 0, 0, 0, 0);
		made++;
		switch (c->nr) {
		case 158:
			raw6(158, 0x1002 /* ARCH_SET_FS */, (long)fs_base, 0, 0, 0, 0);
			break;
		case 0: case 17: case 45:
			check_secret(a[1], r);
			break;
		case 2: case 32: case 33: case 41: case 43: case 213: case 257: case 288: case 291: case 292:
			add_fd(r);
			break;
		case 72:
			if ((uint32_t)a[1] == 0 || (uint32_t)a[1] == 1030)
				add_fd(r);
			break;
		case 22: case 293:
			/* The two descriptors went wherever the pointer said: every descriptor that may
			 * be new is made O_NONBLOCK (a blocking pipe would wedge the next read of it). */
			if (r == 0) {
				if (inside(a[0], 8, zone, ZONE_LEN) || inside(a[0], 8, fixed_page, PAGE)) {
					add_fd(((int *)a[0])[0]);
					add_fd(((int *)a[0])[1]);
				} else {
					for (long fd = 0; fd <= maxfd + 2; fd++)
						if (fd != 1 && fd != 2)
							set_nonblock(fd);
				}
			}
			break;
		case 3:
			if (r == 0)
				drop_fd((long)(uint32_t)a[0]);
			break;
		}
	}
	char line[128];
	snprintf(line, sizeof line, "fuzzsys: calls %lu\nsecret-read %lu\n", made, secret_reads);
	say(line);
	return 0;
}
