/*
 * Wedge's microbenchmarks (after upstream apps/wedge/bench.c), timed with RDTSC:
 *   wedgebench [--impl NAME] create N   sthread_create + sthread_join of an empty sthread, N times
 *                                       (after one warm-up, so Dune recycles a dead sthread)
 *   wedgebench [--impl NAME] ctx N      an sthread calls a callgate N times: 2N context switches
 *   wedgebench pgswitch ITERS           bench.c's mode 2, with libDune directly: touch 1..300
 *                                       pages after no switch / a CR3 switch that flushes / a
 *                                       PCID switch with CR3_NOFLUSH, ITERS times each
 * Rows on stdout, one per measurement, fields separated by spaces:
 *   create <impl> <n> <cycles>     ctx-switch <impl> <switches> <cycles>
 *   create-cold <impl> 1 <cycles>  pgswitch <pages> <iters> <none> <flush> <pcid>   (cycles)
 *   stats <impl> <name>=<value>...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../lib/sthread.h"
#include "libdune/dune.h"

static inline unsigned long rdtsc(void)
{
	unsigned int a, d;
	asm volatile("rdtsc" : "=a"(a), "=d"(d));
	return ((unsigned long) a) | ((unsigned long) d << 32);
}

static long empty(void *arg)
{
	(void) arg;
	return 0;
}

static long gate_inc(void *arg, long x)
{
	(void) arg;
	return x + 1;
}

struct ctx_args {
	cgate_t gate;
	long n;
};

static long ping_pong(void *arg)
{
	struct ctx_args *a = arg; /* on the master's stack: copied out before the first call */
	cgate_t gate = a->gate;
	long n = a->n, x = cgate_call(gate, 0); /* the first call builds the gate's domain */
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++)
		x = cgate_call(gate, x);
	unsigned long t1 = rdtsc();
	return x == n + 1 ? (long) (t1 - t0) : -1;
}

static void print_stats(void)
{
	struct sthread_stats s;
	sthread_get_stats(&s);
	printf("stats %s created=%ld recycled=%ld pages_restored=%ld stack_zeroed=%ld violations=%ld syscalls=%ld cgate_calls=%ld\n",
	       sthread_impl_name(), s.created, s.recycled, s.pages_restored, s.stack_zeroed, s.violations,
	       s.syscalls, s.cgate_calls);
}

static int bench_create(long n)
{
	sc_t sc;
	sthread_t st;
	sc_init(&sc);
	unsigned long t0 = rdtsc();
	if (sthread_create(&st, &sc, empty, NULL) || sthread_join(st, NULL))
		return 1;
	unsigned long t1 = rdtsc();
	printf("create-cold %s 1 %lu\n", sthread_impl_name(), t1 - t0);
	t0 = rdtsc();
	for (long i = 0; i < n; i++)
		if (sthread_create(&st, &sc, empty, NULL) || sthread_join(st, NULL))
			return 1;
	t1 = rdtsc();
	printf("create %s %ld %lu\n", sthread_impl_name(), n, t1 - t0);
	return 0;
}

static int bench_ctx(long n)
{
	sc_t sc, gsc;
	sthread_t st;
	long cycles;
	sc_init(&gsc);
	struct ctx_args a = { cgate_new(gate_inc, &gsc, NULL), n };
	if (!a.gate)
		return 1;
	/* The arguments travel in a tag: the sthread sees no master memory but what it is granted. */
	tag_t t = tag_new();
	struct ctx_args *shared = smalloc(t, sizeof(*shared));
	*shared = a;
	sc_init(&sc);
	sc_mem_add(&sc, t, PROT_READ);
	sc_cgate_add(&sc, a.gate);
	if (sthread_create(&st, &sc, ping_pong, shared) || sthread_join(st, &cycles) || cycles < 0)
		return 1;
	printf("ctx-switch %s %ld %ld\n", sthread_impl_name(), 2 * n, cycles);
	return 0;
}

/* ---- mode 2: libDune directly ---- */

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void) tf;
	if (fec & FEC_P)
		dune_die();
	dune_vm_map_phys(pgroot, (void *) PGADDR(addr), PGSIZE, (void *) dune_va_to_pa((void *) PGADDR(addr)),
			 PERM_R | PERM_W);
}

#define PGSWITCH_PAGES 300

static unsigned long touch_loop(volatile char *buf, int pages, long iters, int mode, ptent_t *other)
{
	unsigned long t0 = rdtsc();
	for (long it = 0; it < iters; it++) {
		if (mode == 1) { /* PCID 0 on both sides and no CR3_NOFLUSH: every write flushes */
			load_cr3((uintptr_t) other);
			load_cr3((uintptr_t) pgroot);
		} else if (mode == 2) {
			dune_switch_root(other, 1, true);
			dune_switch_root(pgroot, 0, true);
		}
		for (int p = 0; p < pages; p++)
			(void) buf[p * PGSIZE];
	}
	return rdtsc() - t0;
}

static int bench_pgswitch(long iters)
{
	static const int pages[] = { 1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300 };
	if (dune_init(0) || dune_enter()) {
		printf("pgswitch: cannot enter Dune\n");
		return 1;
	}
	dune_register_pgflt_handler(pgflt);
	volatile char *buf = mmap(NULL, PGSWITCH_PAGES * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int p = 0; p < PGSWITCH_PAGES; p++)
		buf[p * PGSIZE] = 1; /* in pgroot (and the EPT) before the clone */
	ptent_t *other = dune_vm_clone(pgroot);
	if (!other)
		return 1;
	for (unsigned i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		unsigned long c[3];
		for (int mode = 0; mode < 3; mode++) {
			touch_loop(buf, pages[i], 1, mode, other); /* warm */
			c[mode] = touch_loop(buf, pages[i], iters, mode, other);
		}
		printf("pgswitch %d %ld %lu %lu %lu\n", pages[i], iters, c[0], c[1], c[2]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	while (argc > 2 && !strcmp(argv[1], "--impl")) {
		setenv("STHREAD_IMPL", argv[2], 1);
		argc -= 2, argv += 2;
	}
	if (argc != 3 || atol(argv[2]) <= 0) {
		fprintf(stderr, "usage: wedgebench [--impl dune|fork|pthread] create|ctx N | wedgebench pgswitch ITERS\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (!strcmp(argv[1], "pgswitch"))
		return bench_pgswitch(n);
	int err = sthread_init();
	if (err) {
		fprintf(stderr, "wedgebench: sthread_init failed: %d\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "create"))
		err = bench_create(n);
	else if (!strcmp(argv[1], "ctx"))
		err = bench_ctx(n);
	else {
		fprintf(stderr, "wedgebench: unknown benchmark '%s'\n", argv[1]);
		return 2;
	}
	if (err)
		fprintf(stderr, "wedgebench: %s failed\n", argv[1]);
	else
		print_stats();
	return err;
}
