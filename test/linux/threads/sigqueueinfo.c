/* rt_tgsigqueueinfo (the call libDune's fault path uses to raise a fault's signal on its own
 * thread): the siginfo's si_signo must be the signal sent (-EINVAL otherwise), and the handler
 * receives the si_code and si_value the caller wrote. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static volatile int got_code, got_value;

static void handler(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  got_code = si->si_code;
  got_value = si->si_value.sival_int;
}

static long send(int sig, int signo_field, int code) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = signo_field;
  si.si_code = code;
  si.si_value.sival_int = 1234;
  long r = syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, &si);
  return r < 0 ? -errno : r;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, 0);
  printf("si_signo != sig: %ld\n", send(SIGUSR1, SIGUSR2, SI_QUEUE));
  printf("no signal 0: %ld\n", send(0, 0, SI_QUEUE));
  long r = send(SIGUSR1, SIGUSR1, SI_QUEUE);
  printf("to itself: %ld, handler saw si_code %d value %d\n", r, got_code, got_value);
  return 0;
}
