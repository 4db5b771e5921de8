/* Non-canonical addresses from ring 3 (class 8). Each case runs in a forked child; the child's
 * fault handler (on an alternate stack) reports what the kernel told it, and the parent checks the
 * child died or reported as Linux on Intel does:
 *
 *   jmp/call/ret to a non-canonical target  #GP(0) at the branch itself: SIGSEGV, si_code
 *                                           SI_KERNEL, the RIP of the branch, RSP unchanged
 *   push/pop with a non-canonical RSP,      #SS(0): SIGBUS
 *   leave with a non-canonical RBP
 *   rt_sigreturn to a non-canonical RIP     SIGSEGV (Linux returns with IRET, which faults)
 *   a handler at a non-canonical address    SIGSEGV
 *   a jump to the kernel half               #PF: SIGSEGV
 *
 * One line per case: "held <case>: ..." or "ESCAPED <case>: ...". */
#define _GNU_SOURCE
#include "attack.h"
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile unsigned long expect_rip, expect_rsp;
static char altstack[65536];

static void report(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	unsigned long rip = uc->uc_mcontext.gregs[REG_RIP];
	unsigned long rsp = uc->uc_mcontext.gregs[REG_RSP];
	char line[256];
	int n = snprintf(line, sizeof line, "sig %d code %#x rip %s rsp %s\n", sig, si->si_code,
			 rip == expect_rip ? "at-branch" : "elsewhere", rsp == expect_rsp ? "unchanged" : "moved");
	write(1, line, n);
	_exit(sig);
}

static void handlers(void)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
	sigaltstack(&ss, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = report;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, 0);
	sigaction(SIGBUS, &sa, 0);
}

#define NONCANON 0x0000800000000000ul

extern char jmp_insn[], call_insn[], ret_insn[], push_insn[], leave_insn[];

static void case_jmp(void)
{
	handlers();
	expect_rip = (unsigned long)jmp_insn;
	__asm__ volatile("mov %%rsp, %0" : "=m"(expect_rsp));
	__asm__ volatile("mov %0, %%rax\n jmp_insn: jmp *%%rax" ::"r"(NONCANON) : "rax");
}

static void case_call(void)
{
	handlers();
	expect_rip = (unsigned long)call_insn;
	__asm__ volatile("mov %%rsp, %0" : "=m"(expect_rsp));
	__asm__ volatile("mov %0, %%rax\n call_insn: call *%%rax" ::"r"(0xffff000000001000ul) : "rax");
}

static void case_ret(void)
{
	handlers();
	expect_rip = (unsigned long)ret_insn;
	/* Push the bad target; RSP at the RET is the one recorded after the push. */
	__asm__ volatile("push %1\n mov %%rsp, %0\n ret_insn: ret" : "=m"(expect_rsp) : "r"(NONCANON + 0x40));
}

static void case_push(void)
{
	handlers();
	expect_rip = (unsigned long)push_insn;
	expect_rsp = 0x8000000000001000ul;
	__asm__ volatile("mov %%rsp, %%rbx\n mov %0, %%rsp\n push_insn: push %%rax\n mov %%rbx, %%rsp" ::"r"(0x8000000000001000ul) : "rbx", "memory");
}

static void case_leave(void)
{
	handlers();
	expect_rip = (unsigned long)leave_insn;
	__asm__ volatile("mov %%rsp, %0" : "=m"(expect_rsp));
	__asm__ volatile("mov %0, %%rbp\n leave_insn: leave" ::"r"(0xfff0000000000000ul) : "memory");
}

static void case_sigreturn(void)
{
	/* An rt_sigframe whose saved RIP is non-canonical (uc_mcontext at offset 40 of ucontext,
	 * RIP the 17th register); the rest zero. No handlers: the kernel's verdict is the death. */
	static unsigned long frame[128];
	ucontext_t *uc = (ucontext_t *)(frame + 1);
	uc->uc_mcontext.gregs[REG_RIP] = NONCANON;
	uc->uc_mcontext.gregs[REG_RSP] = (unsigned long)(frame + 100);
	uc->uc_mcontext.gregs[REG_CSGSFS] = 0x33;
	uc->uc_mcontext.gregs[REG_EFL] = 0x202;
	__asm__ volatile("mov %0, %%rsp\n mov $15, %%eax\n syscall" ::"r"(frame + 1) : "rax", "memory");
}

static void case_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = (void (*)(int))NONCANON;
	sigaction(SIGUSR1, &sa, 0);
	raw6(62 /* kill */, getpid(), SIGUSR1, 0, 0, 0, 0);
}

static void case_kernel(void)
{
	__asm__ volatile("mov %0, %%rax\n jmp *%%rax" ::"r"(0xffff888000001000ul) : "rax");
}

struct test {
	const char *name;
	void (*run)(void);
	int sig;
	const char *line; /* what the handler must print, or 0 */
};

int main(void)
{
	static const struct test tests[] = {
		{"jmp to a non-canonical target", case_jmp, SIGSEGV, "sig 11 code 0x80 rip at-branch rsp unchanged"},
		{"call to a non-canonical target", case_call, SIGSEGV, "sig 11 code 0x80 rip at-branch rsp unchanged"},
		{"ret to a non-canonical target", case_ret, SIGSEGV, "sig 11 code 0x80 rip at-branch rsp unchanged"},
		{"push with a non-canonical rsp", case_push, SIGBUS, "sig 7 code 0x80 rip at-branch rsp unchanged"},
		{"leave with a non-canonical rbp", case_leave, SIGBUS, "sig 7 code 0x80 rip at-branch rsp unchanged"},
		{"rt_sigreturn to a non-canonical rip", case_sigreturn, SIGSEGV, 0},
		{"a handler at a non-canonical address", case_handler, SIGSEGV, 0},
		{"a jump into the kernel half", case_kernel, SIGSEGV, 0},
	};
	for (unsigned i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		const struct test *t = &tests[i];
		int fds[2];
		pipe(fds);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(fds[1], 1);
			t->run();
			_exit(0);
		}
		close(fds[1]);
		char got[256] = {0};
		int n = 0, r;
		while (n < (int)sizeof got - 1 && (r = read(fds[0], got + n, sizeof got - 1 - n)) > 0) n += r;
		close(fds[0]);
		if (n > 0 && got[n - 1] == '\n') got[n - 1] = 0;
		int st = 0;
		waitpid(pid, &st, 0);
		int died = WIFSIGNALED(st) ? WTERMSIG(st) : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (died == t->sig && (t->line == 0 || strcmp(got, t->line) == 0))
			HELD("%s: signal %d%s%s", t->name, died, t->line ? ", handler saw: " : "", t->line ? got : "");
		else
			ESCAPED("%s: status %#x, handler saw '%s' (want signal %d%s%s)", t->name, st, got, t->sig, t->line ? ", " : "", t->line ? t->line : "");
	}
	return 0;
}
