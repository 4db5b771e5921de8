/*
 * Wedge's test program (after upstream apps/wedge/test.c): the same output under every
 * implementation where their semantics agree (STHREAD_IMPL=dune|fork|pthread).
 *   wedgetest            the functional tests
 *   wedgetest <attack>   one policy violation, then a well-behaved sthread: untagged-read,
 *                        ro-tag-write, denied-syscall, ungranted-fd, master-code, cr3, cgate,
 *                        handlers, master-stack, bad-pointer, trap-flag, sse-exception
 * -v adds the implementation's counters on stderr; --impl NAME sets STHREAD_IMPL.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/sthread.h"
#include "libdune/dune.h"

static int global = 1;
static volatile int admin;

static long ret42(void *arg)
{
	(void) arg;
	return 42;
}

static long write_global(void *arg)
{
	(void) arg;
	int seen = global;
	global = 99;
	return seen;
}

/*
 * The same frame both times: the first fills its buffer with 0x5a, the next (a recycled sthread
 * under Dune) counts the bytes of it it finds there. Only whole aligned words of the pattern count:
 * natively, under ASLR, an old pointer on the stack holds a 0x5a byte now and then, so counting
 * single bytes made the native comparison fail by chance. Reading the buffer before writing it is
 * the point, hence the pragma.
 */
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static long __attribute__((noinline)) stack_probe(void *arg)
{
	volatile unsigned long buf[256];
	long left = 0;
	for (int i = 0; i < (int) (sizeof(buf) / sizeof(buf[0])); i++)
		left += buf[i] == 0x5a5a5a5a5a5a5a5aUL ? (long) sizeof(buf[0]) : 0;
	if (arg)
		for (int i = 0; i < (int) (sizeof(buf) / sizeof(buf[0])); i++)
			buf[i] = 0x5a5a5a5a5a5a5a5aUL;
	return left;
}

/* Only the kernel writes inbox (read(2)); ring 3 never stores to it. */
static char inbox[16];

static long read_into_global(void *arg)
{
	return read((int) (long) arg, inbox, sizeof(inbox) - 1);
}

static long peek_global(void *arg)
{
	(void) arg;
	return inbox[0] ? 1 : 0;
}

static long tag_rw(void *arg)
{
	int *p = arg;
	int seen = *p;
	*p = 7;
	return seen;
}

/* A hostile sthread rewrites the arena's bump pointer (struct tag's third word). */
static long corrupt_tag(void *arg)
{
	((volatile unsigned long *) arg)[2] = 1UL << 40;
	return 0;
}

/*
 * Globals set after sthread_init are not what a Dune sthread sees (it starts from the
 * checkpoint), so descriptors and gates reach the sthreads as arguments or through a tag.
 */
struct pipe_args {
	int fd;
	char buf[12];
};

static long pipe_writer(void *arg)
{
	return write((int) (long) arg, "ping", 4);
}

static long pipe_reader(void *arg)
{
	struct pipe_args *a = arg; /* in a tag both the reader and the master may use */
	return read(a->fd, a->buf, 4);
}

static char note[8] = "master";

/* The buffer is the sthread's copy of a global: the kernel must be handed that copy. */
static long fd_writer(void *arg)
{
	int fd = (int) (long) arg;
	memcpy(note, "copy!", 6);
	return write(fd, note, 5);
}

static long open_read_close(void *arg)
{
	char *buf = arg;
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return -1;
	long n = read(fd, buf, 8);
	close(fd);
	return n;
}

static long gate_secret(void *arg, long x)
{
	const int *secret = arg;
	return secret[x];
}

static cgate_t gate;

static long call_gate(void *arg)
{
	cgate_t gate = arg;
	long sum = 0;
	for (int i = 0; i < 3; i++)
		sum += cgate_call(gate, i);
	return sum;
}

static int run(const char *what, sc_t *sc, stcb_t cb, void *arg, long *ret)
{
	sthread_t st;
	int err = sthread_create(&st, sc, cb, arg);
	if (err) {
		printf("%s: sthread_create failed: %d\n", what, err);
		exit(1);
	}
	return sthread_join(st, ret);
}

static void functional(void)
{
	sc_t sc;
	long ret;
	int rc;

	sc_init(&sc);
	rc = run("basic", &sc, ret42, NULL, &ret);
	printf("basic: join %d, returned %ld\n", rc, ret);

	rc = run("globals", &sc, write_global, NULL, &ret);
	printf("globals: the sthread read %ld and wrote 99; the master reads %d\n", ret, global);

	run("stack", &sc, stack_probe, (void *) 1, &ret);
	run("stack", &sc, stack_probe, NULL, &ret);
	printf("stack: the next sthread found %ld bytes of the last one's stack data\n", ret);

	int inpipe[2];
	pipe(inpipe);
	write(inpipe[1], "secret", 6);
	sc_init(&sc);
	sc_fd_add(&sc, inpipe[0], PROT_READ);
	run("inbox", &sc, read_into_global, (void *) (long) inpipe[0], &ret);
	run("inbox", &sc, peek_global, NULL, &ret);
	printf("inbox: the next sthread %s what the last one read(2) into a global\n", ret ? "found" : "did not find");
	close(inpipe[0]);
	close(inpipe[1]);

	tag_t t = tag_new();
	int *shared = smalloc(t, sizeof(int));
	*shared = 5;
	sc_init(&sc);
	sc_mem_add(&sc, t, PROT_READ | PROT_WRITE);
	rc = run("tag", &sc, tag_rw, shared, &ret);
	printf("tag: the sthread read %ld through smalloc'd memory, the master reads %d\n", ret, *shared);

	tag_t victim = tag_new();
	sc_init(&sc);
	sc_mem_add(&sc, victim, PROT_READ | PROT_WRITE);
	run("corrupt", &sc, corrupt_tag, victim, &ret);
	printf("tag: after an sthread rewrote the arena's header, smalloc returned %s\n",
	       smalloc(victim, 16) ? "memory" : "NULL");

	int fds[2];
	char got[16] = "";
	pipe(fds);
	sc_init(&sc);
	sc_fd_add(&sc, fds[1], PROT_WRITE);
	rc = run("fd", &sc, fd_writer, (void *) (long) fds[1], &ret);
	read(fds[0], got, ret > 0 ? ret : 0);
	printf("fd: the sthread wrote %ld bytes of its global to its granted fd, the master read '%s', its own global is '%s'\n",
	       ret, got, note);
	close(fds[0]);
	close(fds[1]);

	char *buf = smalloc(t, 16);
	memset(buf, 0, 16);
	sc_init(&sc);
	sc_mem_add(&sc, t, PROT_READ | PROT_WRITE);
	sc_sys_add(&sc, SYS_open);
	sc_sys_add(&sc, SYS_close);
	rc = run("syscall", &sc, open_read_close, buf, &ret);
	printf("syscall: open, read, close granted: read %ld bytes, join %d\n", ret, rc);

	int pipefd[2];
	pipe(pipefd);
	sc_init(&sc);
	sc_fd_add(&sc, pipefd[1], PROT_WRITE);
	run("pipe", &sc, pipe_writer, (void *) (long) pipefd[1], &ret);
	struct pipe_args *pa = smalloc(t, sizeof(*pa));
	memset(pa, 0, sizeof(*pa));
	pa->fd = pipefd[0];
	sc_init(&sc);
	sc_fd_add(&sc, pipefd[0], PROT_READ);
	sc_mem_add(&sc, t, PROT_READ | PROT_WRITE);
	run("pipe", &sc, pipe_reader, pa, &ret);
	printf("pipe: the reader sthread got %ld bytes '%s' from the writer sthread\n", ret, pa->buf);

	tag_t secret_tag = tag_new();
	int *secret = smalloc(secret_tag, 4 * sizeof(int));
	secret[0] = 10, secret[1] = 20, secret[2] = 1;
	sc_t gsc;
	sc_init(&gsc);
	sc_mem_add(&gsc, secret_tag, PROT_READ);
	gate = cgate_new(gate_secret, &gsc, secret);
	sc_init(&sc);
	sc_cgate_add(&sc, gate);
	rc = run("callgate", &sc, call_gate, gate, &ret);
	printf("callgate: the sthread summed %ld through a gate over a tag it cannot read, join %d\n", ret, rc);
}

/* ----------------------------------------------------------------------------------- */
/* Attacks: each one is one sthread; the master then carries on. */

static char *master_secret; /* mapped after sthread_init: never in any sthread's checkpoint */

static long read_untagged(void *arg)
{
	return *(volatile char *) arg;
}

static long write_ro_tag(void *arg)
{
	*(volatile int *) arg = 666;
	return 0;
}

static long denied_syscall(void *arg)
{
	(void) arg;
	return syscall(SYS_getppid);
}

static long ungranted_fd(void *arg)
{
	int fd = (int) (long) arg;
	return write(fd, "leak", 4);
}

static void grant_admin(void)
{
	admin = 1;
}

static long master_code(void *arg)
{
	grant_admin(); /* the master's own function: shared text, the sthread's copy of the data */
	((void (*)(void)) arg)(); /* code the master put in memory it never granted */
	return 0;
}

static long load_cr3_attack(void *arg)
{
	(void) arg;
	asm volatile("mov %0, %%cr3" : : "r"(0UL) : "memory");
	return 0;
}

/* libDune's handler table: ring 0 follows these pointers on the sthread's next trap. */
static long overwrite_handlers(void *arg)
{
	*(volatile unsigned long *) arg = 0x401000;
	return 0;
}

/* A granted descriptor, but a buffer the sthread may not read: the kernel must not read it either. */
static long bad_pointer(void *arg)
{
	const int *a = arg; /* { fd, 0 } in a tag; the buffer is the master's untagged page */
	return write(a[0], *(char *const *) (a + 2), 4);
}

static long trap_flag(void *arg)
{
	(void) arg;
	asm volatile("pushf; orq $0x100, (%%rsp); popf; nop" : : : "memory");
	return 0;
}

static long sse_exception(void *arg)
{
	(void) arg;
	unsigned int mxcsr = 0x1f80 & ~0x200; /* unmask divide-by-zero */
	volatile double zero = 0, one = 1;
	asm volatile("ldmxcsr %0" : : "m"(mxcsr));
	return (long) (one / zero);
}

static long call_ungranted_gate(void *arg)
{
	return cgate_call((cgate_t) arg, 0);
}

static int attack(const char *name)
{
	sc_t sc;
	long ret = 0;
	int rc;
	tag_t t = tag_new();
	int *ro = smalloc(t, sizeof(int));
	*ro = 1;
	int fds[2];
	pipe(fds);
	master_secret = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	master_secret[0] = 's';
	master_secret[1] = (char) 0xc3; /* ret */

	sc_init(&sc);
	if (!strcmp(name, "untagged-read")) {
		rc = run(name, &sc, read_untagged, master_secret, &ret);
	} else if (!strcmp(name, "ro-tag-write")) {
		sc_mem_add(&sc, t, PROT_READ);
		rc = run(name, &sc, write_ro_tag, ro, &ret);
	} else if (!strcmp(name, "denied-syscall")) {
		rc = run(name, &sc, denied_syscall, NULL, &ret);
	} else if (!strcmp(name, "ungranted-fd")) {
		rc = run(name, &sc, ungranted_fd, (void *) (long) fds[1], &ret);
	} else if (!strcmp(name, "master-code")) {
		rc = run(name, &sc, master_code, master_secret + 1, &ret);
	} else if (!strcmp(name, "cr3")) {
		rc = run(name, &sc, load_cr3_attack, NULL, &ret);
	} else if (!strcmp(name, "master-stack")) {
		volatile char local = 'm';
		rc = run(name, &sc, read_untagged, (void *) &local, &ret);
	} else if (!strcmp(name, "bad-pointer")) {
		int *a = smalloc(t, 2 * sizeof(int) + sizeof(char *));
		a[0] = fds[1];
		*(char **) (a + 2) = master_secret;
		sc_mem_add(&sc, t, PROT_READ | PROT_WRITE);
		sc_fd_add(&sc, fds[1], PROT_WRITE);
		rc = run(name, &sc, bad_pointer, a, &ret);
	} else if (!strcmp(name, "trap-flag")) {
		rc = run(name, &sc, trap_flag, NULL, &ret);
	} else if (!strcmp(name, "sse-exception")) {
		rc = run(name, &sc, sse_exception, NULL, &ret);
	} else if (!strcmp(name, "handlers")) {
		rc = run(name, &sc, overwrite_handlers, dune_trap_handlers_page(), &ret);
	} else if (!strcmp(name, "cgate")) {
		gate = cgate_new(gate_secret, &sc, NULL);
		rc = run(name, &sc, call_ungranted_gate, gate, &ret);
	} else {
		fprintf(stderr, "wedgetest: unknown attack '%s'\n", name);
		return 2;
	}
	printf("%s: join %d%s, returned %ld\n", name, rc, rc == STHREAD_KILLED ? " (killed)" : "", ret);
	printf("master: read-only tag holds %d, admin %d, secret '%c'\n", *ro, admin, master_secret[0]);
	sc_init(&sc);
	rc = run("after", &sc, ret42, NULL, &ret);
	printf("master continues: next sthread join %d, returned %ld\n", rc, ret);
	return 0;
}

int main(int argc, char **argv)
{
	int verbose = 0;
	for (;;) {
		if (argc > 1 && !strcmp(argv[1], "-v")) {
			verbose = 1;
			argc--, argv++;
		} else if (argc > 2 && !strcmp(argv[1], "--impl")) {
			setenv("STHREAD_IMPL", argv[2], 1);
			argc -= 2, argv += 2;
		} else {
			break;
		}
	}
	int err = sthread_init();
	if (err) {
		fprintf(stderr, "wedgetest: sthread_init failed: %d (STHREAD_IMPL=dune|fork|pthread)\n", err);
		return 1;
	}
	if (argc > 1) {
		err = attack(argv[1]);
	} else {
		functional();
	}
	fflush(stdout);
	if (verbose) {
		struct sthread_stats s;
		sthread_get_stats(&s);
		fprintf(stderr, "impl %s created %ld recycled %ld pages_restored %ld stack_zeroed %ld violations %ld syscalls %ld cgate_calls %ld\n",
			sthread_impl_name(), s.created, s.recycled, s.pages_restored, s.stack_zeroed, s.violations,
			s.syscalls, s.cgate_calls);
	}
	return err;
}
