/*
 * STHREAD_IMPL=dune: sthreads as Dune's Wedge port builds them (Belay et al., OSDI 2012, §5.2).
 *
 * The master runs in guest ring 0 on pgroot (libDune's precise mode: only the VMAs of
 * /proc/self/maps, all supervisor-only). sthread_init checkpoints the writable segments of the
 * identity window (.data, .bss, the heap). Each sthread gets:
 *   - a page table cloned from pgroot, U cleared everywhere (default deny), then U given back to
 *     the read-only segments, to its own stack and to its granted tags (W only for PROT_WRITE);
 *   - a private copy of the checkpoint, mapped U|W at the writable segments' addresses, so it
 *     sees the globals as they were at sthread_init and its writes stay its own;
 *   - a PCID (its id): the CR3 switch keeps the TLB entries of both sides (CR3_NOFLUSH).
 * It runs in guest ring 3 (dune_jump_to_user). Every SYSCALL and every trap from ring 3 comes to
 * the handlers here, in ring 0, which first load pgroot (the root that was loaded is the
 * sthread's, whose .bss is ring 3's copy), then enforce the policy: the system-call bitmap, fd
 * permissions, and pointer arguments, which must lie in memory the sthread may access and are
 * rewritten to the host-virtual address its PTE points at (the private copy for a global).
 * A dead sthread keeps its page table; the next sthread_create with the same policy recycles it
 * by copying back only the pages whose PTE has D set and zeroing the dirty stack pages.
 *
 * Two pages in .bss/.data stay supervisor-only and shared in every sthread root, because ring 0
 * reads them before it has switched to pgroot: libDune's handler table and kpage below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libdune/dune.h"
#include "sthread-internal.h"

#define STACK_SIZE (40 * 1024) /* upstream's sthread stack */
#define MAX_SEGS 32
#define USER_TOP 0x800000000000UL
#define MAX_DIRTY 256

enum st_state { ST_RUNNING, ST_ZOMBIE, ST_DEAD };

struct sthread {
	int id;            /* also its PCID */
	enum st_state state;
	int killed;
	int is_gate;
	int in_call;       /* a gate between entry and return */
	long retval;
	sc_t sc;
	ptent_t *root;
	char *stack;
	char *copy;        /* private copy of the checkpoint, laid out like it */
	int fds[SC_MAX_FD + 16]; /* granted descriptors and their prot (upstream: open grants RW) */
	int fd_prot[SC_MAX_FD + 16];
	int nfds, nsc_fds;
	struct sthread *next;
};

struct segment {
	uintptr_t start, end;
	int prot;          /* PROT_* from /proc/self/maps */
	size_t ckpt_off;   /* writable: where it lies in the checkpoint */
};

/*
 * What ring 0 needs before it has switched roots: a page of its own, mapped supervisor-only
 * to itself in every sthread root.
 */
static union {
	struct {
		unsigned long kernel_cr3;
	} k;
	char page[PGSIZE];
} kpage __attribute__((aligned(PGSIZE)));

static struct segment segs[MAX_SEGS];
static int nsegs;
static char *checkpoint;
static size_t ckpt_size;
static struct sthread *sthreads; /* every sthread ever built; dead ones are recycled */
static struct sthread *current;  /* the sthread (or gate) in ring 3, NULL in the master */
static unsigned long master_fs;  /* ring 3 uses the master's TLS block, from its private copy */

/* -------------------------------------------------------------------------------------- */

static void report(struct sthread *st, const char *fmt, ...)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "wedge: %s %d killed: ", st->is_gate ? "callgate" : "sthread", st->id);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	if (n > (int) sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	write(2, msg, n);
}

static int parse_maps(void)
{
	char buf[8192];
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t len = 0, n;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	for (char *line = buf; *line && nsegs < MAX_SEGS;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		unsigned long start, end;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 && !strstr(line, "[stack]") &&
		    !strstr(line, "[vvar]") && !strstr(line, "[vdso]") && !strstr(line, "[vsyscall]") &&
		    end <= PAGEBASE && end <= mmap_base) {
			/* The identity window below libDune's pool: the program's own segments and heap. */
			struct segment *s = &segs[nsegs++];
			s->start = start;
			s->end = end;
			s->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
				  (perms[2] == 'x' ? PROT_EXEC : 0);
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	return 0;
}

/* Host-virtual address behind a guest-physical one (the inverse of dune_va_to_pa). */
static uintptr_t pa_to_va(uintptr_t pa)
{
	uintptr_t w = stack_base - mmap_base;
	if (pa < w)
		return pa;
	if (pa < 2 * w)
		return mmap_base + (pa - w);
	return stack_base + (pa - 2 * w);
}

static int clear_u(const void *arg, ptent_t *pte, void *va)
{
	(void) arg;
	(void) va;
	*pte &= ~PTE_U;
	return 0;
}

static int give_u(const void *arg, ptent_t *pte, void *va)
{
	(void) arg;
	(void) va;
	if (*pte & PTE_P)
		*pte = (*pte | PTE_U) & ~PTE_W;
	return 0;
}

static void map_pgroot_identity(uintptr_t va)
{
	dune_vm_map_phys(pgroot, (void *) PGADDR(va), PGSIZE, (void *) dune_va_to_pa((void *) PGADDR(va)),
			 PERM_R | PERM_W);
}

/* -------------------------------------------------------------------------------------- */
/* Building, running and recycling an sthread. */

static void grant_fd(struct sthread *st, int fd, int prot)
{
	for (int i = 0; i < st->nfds; i++)
		if (st->fds[i] == fd) {
			st->fd_prot[i] = prot;
			return;
		}
	if (st->nfds < (int) (sizeof(st->fds) / sizeof(st->fds[0]))) {
		st->fds[st->nfds] = fd;
		st->fd_prot[st->nfds++] = prot;
	}
}

static int fd_prot(struct sthread *st, long fd)
{
	for (int i = 0; i < st->nfds; i++)
		if (st->fds[i] == fd)
			return st->fd_prot[i];
	return 0;
}

static void reset_fds(struct sthread *st)
{
	st->nfds = 0;
	for (int i = 0; i < st->sc.nfd; i++)
		grant_fd(st, st->sc.fd[i].fd, st->sc.fd[i].prot);
	st->nsc_fds = st->nfds;
}

static struct sthread *build(const sc_t *sc, int is_gate)
{
	struct sthread *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->sc = *sc;
	st->is_gate = is_gate;
	if ((st->id = dune_pcid_alloc()) < 0)
		goto fail;
	st->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	st->copy = mmap(NULL, ckpt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st->stack == MAP_FAILED || st->copy == MAP_FAILED)
		goto fail;
	memcpy(st->copy, checkpoint, ckpt_size);
	memset(st->stack, 0, STACK_SIZE); /* the pages are there before ring 3 needs them */
	if (!(st->root = dune_vm_clone(pgroot)))
		goto fail;
	/* Default deny: nothing of the master is ring 3's. */
	dune_vm_page_walk(st->root, 0, (void *) (USER_TOP - 1), clear_u, NULL);
	for (int i = 0; i < nsegs; i++) {
		struct segment *s = &segs[i];
		if (!(s->prot & PROT_WRITE)) {
			dune_vm_page_walk(st->root, (void *) s->start, (void *) (s->end - 1), give_u, NULL);
			continue;
		}
		if (dune_vm_map_phys(st->root, (void *) s->start, s->end - s->start,
				     (void *) dune_va_to_pa(st->copy + s->ckpt_off), PERM_R | PERM_W | PERM_U))
			goto fail;
	}
	/* Read by ring 0 before it switches to pgroot: the real pages, supervisor-only. */
	dune_vm_map_phys(st->root, &kpage, PGSIZE, (void *) dune_va_to_pa(&kpage), PERM_R);
	void *handlers = dune_trap_handlers_page();
	dune_vm_map_phys(st->root, handlers, PGSIZE, (void *) dune_va_to_pa(handlers), PERM_R);
	dune_vm_map_phys(st->root, st->stack, STACK_SIZE, (void *) dune_va_to_pa(st->stack),
			 PERM_R | PERM_W | PERM_U);
	for (int i = 0; i < sc->nmem; i++)
		dune_vm_map_phys(st->root, sc->mem[i].tag, TAG_SIZE, (void *) dune_va_to_pa(sc->mem[i].tag),
				 PERM_R | PERM_U | (sc->mem[i].prot & PROT_WRITE ? PERM_W : 0));
	st->next = sthreads;
	sthreads = st;
	sthread_stats.created++;
	return st;
fail:
	if (st->root)
		dune_vm_free(st->root);
	if (st->stack && st->stack != MAP_FAILED)
		munmap(st->stack, STACK_SIZE);
	if (st->copy && st->copy != MAP_FAILED)
		munmap(st->copy, ckpt_size);
	if (st->id > 0)
		dune_pcid_free(st->id);
	free(st);
	return NULL;
}

/* Back to the checkpoint: only the pages ring 3 dirtied (PTE_D), and zeroed dirty stack pages. */
static void recycle(struct sthread *st)
{
	void *dirty[MAX_DIRTY];
	long n;
	for (int i = 0; i < nsegs; i++) {
		struct segment *s = &segs[i];
		if (!(s->prot & PROT_WRITE))
			continue;
		do {
			n = dune_vm_harvest_dirty(st->root, (void *) s->start, s->end - s->start, dirty, MAX_DIRTY);
			for (long j = 0; j < n; j++) {
				size_t off = s->ckpt_off + ((uintptr_t) dirty[j] - s->start);
				memcpy(st->copy + off, checkpoint + off, PGSIZE);
			}
			sthread_stats.pages_restored += n > 0 ? n : 0;
		} while (n == MAX_DIRTY);
	}
	do {
		n = dune_vm_harvest_dirty(st->root, st->stack, STACK_SIZE, dirty, MAX_DIRTY);
		for (long j = 0; j < n; j++)
			memset(dirty[j], 0, PGSIZE);
		sthread_stats.stack_zeroed += n > 0 ? n : 0;
	} while (n == MAX_DIRTY);
	/* Descriptors the sthread opened itself die with it. */
	for (int i = st->nsc_fds; i < st->nfds; i++)
		close(st->fds[i]);
	reset_fds(st);
}

static void sthread_trampoline(stcb_t cb, void *arg)
{
	long r = cb(arg);
	wedge_syscall3(SYS_STHREAD_EXIT, r, 0, 0);
	for (;;)
		;
}

static void cgate_trampoline(cgate_cb_t cb, void *arg, long x)
{
	long r = cb(arg, x);
	wedge_syscall3(SYS_STHREAD_EXIT, r, 0, 0);
	for (;;)
		;
}

/* Runs st in ring 3 from its entry until it exits or is killed; returns on pgroot. */
static void run(struct sthread *st, void *entry, long a0, long a1, long a2)
{
	struct dune_tf tf;
	memset(&tf, 0, sizeof(tf));
	tf.rip = (uintptr_t) entry;
	tf.rdi = a0;
	tf.rsi = a1;
	tf.rdx = a2;
	tf.rsp = (uintptr_t) st->stack + STACK_SIZE - 8;
	tf.rflags = 0x202;
	st->state = ST_RUNNING;
	st->killed = 0;
	current = st;
	dune_set_user_fs(master_fs);
	dune_switch_root(st->root, st->id, true);
	dune_jump_to_user(&tf);
}

/* Ends the sthread in ring 3 (its exit or a violation); called on pgroot. */
static void __attribute__((noreturn)) finish(struct sthread *st, long retval, int killed)
{
	st->retval = retval;
	st->killed = killed;
	if (killed)
		sthread_stats.violations++;
	if (!st->is_gate) {
		st->state = ST_ZOMBIE;
		recycle(st);
	}
	dune_ret_from_user(0);
}

/* -------------------------------------------------------------------------------------- */
/* Ring 0: the checks. */

/*
 * [va, va + len) must be present and U (and W if the kernel writes it) in st's root, and
 * contiguous in guest-physical memory; *host is where the host kernel finds it.
 */
static int check_range(struct sthread *st, uintptr_t va, size_t len, int write, uintptr_t *host)
{
	ptent_t *pte;
	uintptr_t first_pa = 0;
	if (len == 0) {
		*host = va;
		return 0;
	}
	if (va >= USER_TOP || len > USER_TOP - va)
		return -EFAULT;
	for (uintptr_t p = PGADDR(va); p < va + len; p += PGSIZE) {
		if (dune_vm_lookup(st->root, (void *) p, CREATE_NONE, &pte) || !(*pte & PTE_P) ||
		    !(*pte & PTE_U) || (write && !(*pte & PTE_W)))
			return -EFAULT;
		/*
		 * The host kernel will write these pages through the host's tables, so the guest PTE
		 * would stay clean and the recycle would leave the data for the next sthread: mark
		 * them dirty, as ring 3's own store would have.
		 */
		if (write)
			*pte |= PTE_A | PTE_D;
		uintptr_t pa = PTE_ADDR(*pte);
		if (p == PGADDR(va))
			first_pa = pa;
		else if (pa != first_pa + (p - PGADDR(va)))
			return -EFAULT; /* the host would not find it in one piece */
	}
	*host = pa_to_va(first_pa + PGOFF(va));
	return 0;
}

/* A NUL-terminated string in st's memory, at most max bytes. */
static int check_string(struct sthread *st, uintptr_t va, size_t max, uintptr_t *host)
{
	for (size_t len = 1; len <= max; len++) {
		uintptr_t h;
		if (check_range(st, va, len, 0, &h))
			return -EFAULT;
		if (((char *) h)[len - 1] == 0)
			return check_range(st, va, len, 0, host);
	}
	return -ENAMETOOLONG;
}

static const char *sys_name(long nr)
{
	switch (nr) {
	case SYS_read: return "read";
	case SYS_write: return "write";
	case SYS_open: return "open";
	case SYS_openat: return "openat";
	case SYS_close: return "close";
	case SYS_getpid: return "getpid";
	case SYS_socket: return "socket";
	case SYS_mmap: return "mmap";
	case SYS_getppid: return "getppid";
	case SYS_kill: return "kill";
	case SYS_execve: return "execve";
	default: return "?";
	}
}

static long cgate_enter(struct sthread *caller, struct cgate *cg, long x);

/* Returns with tf->rax set, or does not return (the sthread ends). */
static void handle_syscall(struct sthread *st, struct dune_tf *tf)
{
	long nr = tf->rax;
	uintptr_t host;
	sthread_stats.syscalls++;

	if (nr == SYS_STHREAD_EXIT || nr == SYS_exit || nr == SYS_exit_group)
		finish(st, ARG0(tf), 0);
	if (nr == SYS_STHREAD_CGATE) {
		struct cgate *cg = (struct cgate *) ARG0(tf);
		/* Compared, never followed, until it is known to be one of the grants. */
		if (!sc_has_cgate(&st->sc, cg)) {
			report(st, "callgate %#lx not granted (rule: sc_cgate_add)", (unsigned long) ARG0(tf));
			finish(st, 0, 1);
		}
		tf->rax = cgate_enter(st, cg, ARG1(tf));
		return;
	}
	/* read, write and close need only the descriptor's grant (as upstream); the rest the bitmap. */
	if (nr != SYS_read && nr != SYS_write && nr != SYS_close && !sc_sys_allowed(&st->sc, nr)) {
		report(st, "system call %ld (%s) denied (rule: sc_sys_add)", nr, sys_name(nr));
		finish(st, 0, 1);
	}
	switch (nr) {
	case SYS_read:
	case SYS_write: {
		int need = nr == SYS_read ? PROT_READ : PROT_WRITE;
		if (!(fd_prot(st, ARG0(tf)) & need)) {
			report(st, "%s on fd %ld not granted (rule: sc_fd_add %s)", sys_name(nr), (long) ARG0(tf),
			       nr == SYS_read ? "PROT_READ" : "PROT_WRITE");
			finish(st, 0, 1);
		}
		if (check_range(st, ARG1(tf), ARG2(tf), nr == SYS_read, &host)) {
			report(st, "%s buffer %#lx+%lu outside its memory (rule: pointer arguments)", sys_name(nr),
			       (unsigned long) ARG1(tf), (unsigned long) ARG2(tf));
			finish(st, 0, 1);
		}
		ARG1(tf) = host;
		break;
	}
	case SYS_close:
		if (!fd_prot(st, ARG0(tf))) {
			report(st, "close of fd %ld not granted (rule: sc_fd_add)", (long) ARG0(tf));
			finish(st, 0, 1);
		}
		break;
	case SYS_open:
	case SYS_openat: {
		int at = nr == SYS_openat;
		uint64_t path = at ? ARG1(tf) : ARG0(tf);
		if (at && (long) ARG0(tf) != AT_FDCWD && !fd_prot(st, ARG0(tf))) {
			report(st, "openat relative to fd %ld not granted (rule: sc_fd_add)", (long) ARG0(tf));
			finish(st, 0, 1);
		}
		if (check_string(st, path, 4096, &host)) {
			report(st, "%s path %#lx outside its memory (rule: pointer arguments)", sys_name(nr),
			       (unsigned long) path);
			finish(st, 0, 1);
		}
		if (at)
			ARG1(tf) = host;
		else
			ARG0(tf) = host;
		dune_passthrough_syscall(tf);
		if ((long) tf->rax >= 0)
			grant_fd(st, tf->rax, PROT_READ | PROT_WRITE);
		return;
	}
	case SYS_getpid:
	case SYS_gettid:
	case SYS_getuid:
	case SYS_sched_yield:
		break;
	case SYS_lseek:
	case SYS_fsync:
		if (!fd_prot(st, ARG0(tf))) {
			report(st, "%ld on fd %ld not granted (rule: sc_fd_add)", nr, (long) ARG0(tf));
			finish(st, 0, 1);
		}
		break;
	default:
		/* Granted, but this handler cannot check its arguments: refused rather than trusted. */
		report(st, "system call %ld granted but its arguments are not checked here (rule: handler)", nr);
		finish(st, 0, 1);
	}
	dune_passthrough_syscall(tf);
}

/* A callgate: the gate's own protection domain, entered from ring 0 on the caller's behalf. */
static long cgate_enter(struct sthread *caller, struct cgate *cg, long x)
{
	if (!cg->ctx && !(cg->ctx = build(&cg->sc, 1)))
		return -ENOMEM;
	struct sthread *gate = cg->ctx;
	if (gate->in_call)
		return -EBUSY; /* one ring-3 stack per gate: no re-entry while it runs */
	reset_fds(gate);
	gate->in_call = 1;
	sthread_stats.cgate_calls++;
	run(gate, (void *) cgate_trampoline, (long) cg->cb, (long) cg->arg, x);
	/* Back on pgroot; the caller goes on in ring 3 under its own root. */
	long r = gate->killed ? -EPERM : gate->retval;
	gate->in_call = 0;
	current = caller;
	dune_set_user_fs(master_fs);
	dune_switch_root(caller->root, caller->id, true);
	return r;
}

/* Entry points: switch to pgroot before anything reads the master's globals. */
static void __attribute__((noinline)) wedge_syscall(struct dune_tf *tf)
{
	load_cr3(kpage.k.kernel_cr3);
	struct sthread *st = current;
	if (!st) {
		/* ring 3 that is no sthread of ours: nothing to return to */
		dune_printf("wedge: system call from ring 3 outside any sthread\n");
		dune_die();
	}
	handle_syscall(st, tf);
	dune_switch_root(st->root, st->id, true);
}

static void wedge_pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	unsigned long entry_cr3 = read_cr3();
	load_cr3(kpage.k.kernel_cr3);
	if (!(tf->cs & 3)) {
		/* Ring 0 (the master, or this library under an sthread's root): map the host's page. */
		if (fec & FEC_P) {
			dune_printf("wedge: ring-0 protection fault at %#lx, rip %#lx\n", (unsigned long) addr,
				    (unsigned long) tf->rip);
			dune_die();
		}
		map_pgroot_identity(addr);
		ptent_t *root = (ptent_t *) (entry_cr3 & ~(CR3_NOFLUSH | CR3_PCID_MASK));
		if (root != pgroot)
			dune_vm_map_phys(root, (void *) PGADDR(addr), PGSIZE,
					 (void *) dune_va_to_pa((void *) PGADDR(addr)), PERM_R | PERM_W);
		load_cr3(entry_cr3 | CR3_NOFLUSH);
		return;
	}
	struct sthread *st = current;
	const char *what = fec & FEC_I ? "execute" : fec & FEC_W ? "write" : "read";
	const char *rule = "memory not granted: default deny";
	uintptr_t handlers = (uintptr_t) dune_trap_handlers_page();
	for (int i = 0; i < nsegs; i++)
		if (addr >= segs[i].start && addr < segs[i].end && (fec & FEC_P))
			rule = fec & FEC_I ? "data is not executable" : "read-only segment";
	for (int i = 0; i < st->sc.nmem; i++) {
		uintptr_t t = (uintptr_t) st->sc.mem[i].tag;
		if (addr >= t && addr < t + TAG_SIZE)
			rule = fec & FEC_I ? "tags are not executable" : "tag granted PROT_READ";
	}
	if (PGADDR(addr) == (uintptr_t) &kpage || PGADDR(addr) == handlers)
		rule = "ring 0's page, supervisor-only";
	report(st, "%s at %#lx, rip %#lx (rule: %s)", what, (unsigned long) addr, (unsigned long) tf->rip, rule);
	finish(st, 0, 1);
}

static void wedge_exception(struct dune_tf *tf, int vec, const char *name)
{
	load_cr3(kpage.k.kernel_cr3);
	if (!(tf->cs & 3)) {
		dune_printf("wedge: %s in ring 0, rip %#lx\n", name, (unsigned long) tf->rip);
		dune_die();
	}
	report(current, "%s (vector %d), rip %#lx (rule: ring 3 has no privileged instructions)", name, vec,
	       (unsigned long) tf->rip);
	finish(current, 0, 1);
}

/*
 * Every exception ring 3 can raise gets a handler: one left to libDune's default would end the
 * whole process, so an sthread could kill its master. (#PF has its own; #DB and #BP exit to the
 * Dune module on real hardware, where libDune ends the process: see docs/wedge.md.)
 */
#define ON_VECTOR(vec, name) \
	static void on_##vec(struct dune_tf *tf) { wedge_exception(tf, vec, name); }
ON_VECTOR(0, "#DE")
ON_VECTOR(1, "#DB")
ON_VECTOR(3, "#BP")
ON_VECTOR(4, "#OF")
ON_VECTOR(5, "#BR")
ON_VECTOR(6, "#UD")
ON_VECTOR(7, "#NM")
ON_VECTOR(10, "#TS")
ON_VECTOR(11, "#NP")
ON_VECTOR(12, "#SS")
ON_VECTOR(13, "#GP")
ON_VECTOR(16, "#MF")
ON_VECTOR(17, "#AC")
ON_VECTOR(19, "#XM")
ON_VECTOR(20, "#VE")

static const struct {
	int vec;
	dune_intr_cb cb;
} exception_handlers[] = {
	{ 0, on_0 }, { 1, on_1 }, { 3, on_3 }, { 4, on_4 }, { 5, on_5 }, { 6, on_6 }, { 7, on_7 },
	{ 10, on_10 }, { 11, on_11 }, { 12, on_12 }, { 13, on_13 }, { 16, on_16 }, { 17, on_17 },
	{ 19, on_19 }, { 20, on_20 },
};

/* -------------------------------------------------------------------------------------- */

int dune_sthread_init(void)
{
	int ret;
	if ((ret = dune_init(0)))
		return ret;
	if ((ret = parse_maps()))
		return ret;
	if ((ret = dune_enter()))
		return ret;
	dune_register_pgflt_handler(wedge_pgflt);
	dune_register_syscall_handler(wedge_syscall);
	for (unsigned i = 0; i < sizeof(exception_handlers) / sizeof(exception_handlers[0]); i++)
		dune_register_intr_handler(exception_handlers[i].vec, exception_handlers[i].cb);
	kpage.k.kernel_cr3 = (uintptr_t) pgroot | CR3_NOFLUSH;
	asm volatile("mov %%fs:0, %0" : "=r"(master_fs));

	for (int i = 0; i < nsegs; i++)
		if (segs[i].prot & PROT_WRITE) {
			segs[i].ckpt_off = ckpt_size;
			ckpt_size += segs[i].end - segs[i].start;
		}
	checkpoint = mmap(NULL, ckpt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (checkpoint == MAP_FAILED)
		return -ENOMEM;
	/* The checkpoint: what every sthread's globals start as. */
	for (int i = 0; i < nsegs; i++)
		if (segs[i].prot & PROT_WRITE)
			memcpy(checkpoint + segs[i].ckpt_off, (void *) segs[i].start, segs[i].end - segs[i].start);
	return 0;
}

static int same_policy(const sc_t *a, const sc_t *b)
{
	return !memcmp(a, b, sizeof(*a));
}

int dune_sthread_create(sthread_t *out, sc_t *sc, stcb_t cb, void *arg)
{
	struct sthread *st = NULL;
	if (current)
		return -EPERM; /* from ring 0 only */
	for (struct sthread *s = sthreads; s; s = s->next)
		if (s->state == ST_DEAD && !s->is_gate && same_policy(&s->sc, sc)) {
			st = s;
			sthread_stats.recycled++;
			break;
		}
	if (!st && !(st = build(sc, 0)))
		return -ENOMEM;
	reset_fds(st);
	*out = st;
	/* Dune's sthreads are cooperative: this one runs until it exits, on the master's vCPU. */
	run(st, (void *) sthread_trampoline, (long) cb, (long) arg, 0);
	current = NULL;
	return 0;
}

int dune_sthread_join(sthread_t st, long *ret)
{
	if (!st || st->state != ST_ZOMBIE)
		return -EINVAL;
	st->state = ST_DEAD;
	if (ret)
		*ret = st->killed ? 0 : st->retval;
	return st->killed ? STHREAD_KILLED : 0;
}

long dune_cgate_call(cgate_t cg, long x)
{
	unsigned short cs;
	asm volatile("mov %%cs, %0" : "=r"(cs));
	if (cs & 3)
		return wedge_syscall3(SYS_STHREAD_CGATE, (long) cg, x, 0);
	return cg->cb(cg->arg, x); /* the master holds every privilege already */
}
