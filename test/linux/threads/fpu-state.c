/*
 * The x87/SSE registers belong to the thread, not the CPU: a context switch saves the outgoing
 * thread's and loads the next one's (switch_fpu), fork copies them, and a signal frame carries the
 * interrupted code's in its fpstate, which rt_sigreturn restores (the handler itself starts from
 * the initial state, MXCSR 0x1f80). Each check loads XMM0..15 and MXCSR, makes its system calls
 * from the same asm block, and reads the registers back: no compiled code runs in between.
 */
#define _GNU_SOURCE
#include "threads-test.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

typedef struct { uint32_t w[4]; } xmm_t;

static long with_sse(const xmm_t *in, uint32_t mx_in, xmm_t *out, uint32_t *mx_out, long n, long a0, long a1, long times) {
  long r;
  __asm__ volatile(
      "ldmxcsr %[mxi]\n"
      "movdqu 0(%[in]), %%xmm0\n movdqu 16(%[in]), %%xmm1\n movdqu 32(%[in]), %%xmm2\n movdqu 48(%[in]), %%xmm3\n"
      "movdqu 64(%[in]), %%xmm4\n movdqu 80(%[in]), %%xmm5\n movdqu 96(%[in]), %%xmm6\n movdqu 112(%[in]), %%xmm7\n"
      "movdqu 128(%[in]), %%xmm8\n movdqu 144(%[in]), %%xmm9\n movdqu 160(%[in]), %%xmm10\n movdqu 176(%[in]), %%xmm11\n"
      "movdqu 192(%[in]), %%xmm12\n movdqu 208(%[in]), %%xmm13\n movdqu 224(%[in]), %%xmm14\n movdqu 240(%[in]), %%xmm15\n"
      "1:\n mov %[n], %%rax\n syscall\n dec %[times]\n jnz 1b\n"
      "movdqu %%xmm0, 0(%[out])\n movdqu %%xmm1, 16(%[out])\n movdqu %%xmm2, 32(%[out])\n movdqu %%xmm3, 48(%[out])\n"
      "movdqu %%xmm4, 64(%[out])\n movdqu %%xmm5, 80(%[out])\n movdqu %%xmm6, 96(%[out])\n movdqu %%xmm7, 112(%[out])\n"
      "movdqu %%xmm8, 128(%[out])\n movdqu %%xmm9, 144(%[out])\n movdqu %%xmm10, 160(%[out])\n movdqu %%xmm11, 176(%[out])\n"
      "movdqu %%xmm12, 192(%[out])\n movdqu %%xmm13, 208(%[out])\n movdqu %%xmm14, 224(%[out])\n movdqu %%xmm15, 240(%[out])\n"
      "stmxcsr %[mxo]\n"
      : "=&a"(r), [times] "+r"(times), [mxo] "=m"(*mx_out)
      : [in] "r"(in), [out] "r"(out), [mxi] "m"(mx_in), [n] "r"(n), "D"(a0), "S"(a1)
      : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  return r;
}

static void pattern(xmm_t *x, uint32_t seed) {
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 4; j++) x[i].w[j] = seed * 0x9e3779b9u + (uint32_t)(i * 4 + j) * 0x01010101u;
}

static int differ(const xmm_t *a, const xmm_t *b) {
  int n = 0;
  for (int i = 0; i < 64; i++) n += a[i / 4].w[i % 4] != b[i / 4].w[i % 4];
  return n;
}

/* ---- A signal between the loads and the stores. */
static volatile uint32_t h_mxcsr, h_fp_mxcsr, h_fp_xmm8, h_fp_present;

static void handler(int sig, siginfo_t *si, void *ucv) {
  (void)sig; (void)si;
  ucontext_t *uc = ucv;
  uint32_t mx;
  __asm__ volatile("stmxcsr %0" : "=m"(mx));
  h_mxcsr = mx;
  h_fp_present = uc->uc_mcontext.fpregs != 0;
  if (uc->uc_mcontext.fpregs != 0) {
    h_fp_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    h_fp_xmm8 = uc->uc_mcontext.fpregs->_xmm[8].element[0];
    uc->uc_mcontext.fpregs->_xmm[9].element[0] = 0xdeadbeef; /* rt_sigreturn loads it */
  }
  /* Clobber every XMM register and MXCSR: the interrupted code must not see it. */
  uint32_t bad = 0x1f80 | 0x6000;
  __asm__ volatile("pcmpeqd %%xmm0,%%xmm0\n pcmpeqd %%xmm1,%%xmm1\n pcmpeqd %%xmm2,%%xmm2\n pcmpeqd %%xmm3,%%xmm3\n"
                   "pcmpeqd %%xmm4,%%xmm4\n pcmpeqd %%xmm5,%%xmm5\n pcmpeqd %%xmm6,%%xmm6\n pcmpeqd %%xmm7,%%xmm7\n"
                   "pcmpeqd %%xmm8,%%xmm8\n pcmpeqd %%xmm9,%%xmm9\n pcmpeqd %%xmm10,%%xmm10\n pcmpeqd %%xmm11,%%xmm11\n"
                   "pcmpeqd %%xmm12,%%xmm12\n pcmpeqd %%xmm13,%%xmm13\n pcmpeqd %%xmm14,%%xmm14\n pcmpeqd %%xmm15,%%xmm15\n"
                   "ldmxcsr %0" :: "m"(bad) : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static void bad_mxcsr_handler(int sig, siginfo_t *si, void *ucv) {
  (void)sig; (void)si;
  ((ucontext_t *)ucv)->uc_mcontext.fpregs->mxcsr = 0xffffffffu; /* reserved bits: a bad frame */
}

static void check_signal(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, 0);
  xmm_t in[16], out[16], want[16];
  uint32_t mx = 0;
  pattern(in, 1);
  long pid = sys0(SYS_getpid);
  with_sse(in, 0x1f80 | 0x6000, out, &mx, SYS_kill, pid, SIGUSR1, 1);
  memcpy(want, in, sizeof want);
  want[9].w[0] = 0xdeadbeef;
  CHECK("signal: handler starts with MXCSR", h_mxcsr, 0x1f80);
  CHECK("signal: the frame has an fpstate", h_fp_present, 1);
  CHECK("signal: fpstate MXCSR is the interrupted code's", h_fp_mxcsr, 0x7f80);
  CHECK("signal: fpstate XMM8 is the interrupted code's", h_fp_xmm8 == in[8].w[0], 1);
  CHECK("signal: MXCSR after sigreturn", mx, 0x7f80);
  CHECK("signal: XMM words differing from the frame after sigreturn", differ(out, want), 0);
}

static void check_bad_frame(void) {
  long pid = sys0(SYS_fork);
  if (pid == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = bad_mxcsr_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, 0);
    sys2(SYS_kill, sys0(SYS_getpid), SIGUSR2);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("bad fpstate MXCSR: child killed by signal", WIFSIGNALED(st) ? WTERMSIG(st) : 0, SIGSEGV);
}

static void check_fork(void) {
  xmm_t in[16], out[16];
  uint32_t mx = 0;
  pattern(in, 2);
  long pid = with_sse(in, 0x1f80 | 0x2000, out, &mx, SYS_fork, 0, 0, 1);
  if (pid == 0) _exit(differ(in, out) + (mx != (0x1f80 | 0x2000)));
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("fork: child's XMM/MXCSR differences", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
  CHECK("fork: parent's XMM/MXCSR differences", differ(in, out) + (mx != (0x1f80 | 0x2000)), 0);
}

/* ---- Two threads, each with its own registers, yielding to each other many times. */
static int thread_diffs[2];

static void *yielder(void *arg) {
  long id = (long)arg;
  xmm_t in[16], out[16];
  uint32_t mxin = 0x1f80 | (id == 0 ? 0x2000 : 0x4000), mx = 0;
  pattern(in, 10 + (uint32_t)id);
  with_sse(in, mxin, out, &mx, SYS_sched_yield, 0, 0, 200);
  thread_diffs[id] = differ(in, out) + (mx != mxin);
  return 0;
}

static void check_threads(void) {
  pthread_t t[2];
  for (long i = 0; i < 2; i++) pthread_create(&t[i], 0, yielder, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], 0);
  CHECK("threads: thread 0 XMM/MXCSR differences after 200 yields", thread_diffs[0], 0);
  CHECK("threads: thread 1 XMM/MXCSR differences after 200 yields", thread_diffs[1], 0);
}

int main(void) {
  check_signal();
  check_bad_frame();
  check_fork();
  check_threads();
  return 0;
}
