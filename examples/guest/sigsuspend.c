/*
 * sigsuspend(2): the mask is replaced for the wait and comes back after it. SIGUSR1 is blocked and
 * already pending when sigsuspend unblocks it: the handler runs at once, with the mask sigsuspend
 * set plus its own sa_mask and the signal itself; sigsuspend fails with EINTR; SIGUSR1 is blocked
 * again afterwards. Then a child sends SIGUSR2 while the parent waits in sigsuspend, and an
 * ignored signal does not end the wait.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile sig_atomic_t got;
static volatile int usr1_blocked_in_handler, usr2_blocked_in_handler, term_blocked_in_handler;

static void handler(int sig)
{
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	usr1_blocked_in_handler = sigismember(&now, SIGUSR1);
	usr2_blocked_in_handler = sigismember(&now, SIGUSR2);
	term_blocked_in_handler = sigismember(&now, SIGTERM);
	got = sig;
}

static int blocked(int sig)
{
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	return sigismember(&now, sig);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGHUP, SIG_IGN);

	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	kill(getpid(), SIGUSR1);
	printf("pending before: %s\n", got ? "ran" : "not run");

	sigemptyset(&wait_mask);
	sigaddset(&wait_mask, SIGUSR2);
	int r = sigsuspend(&wait_mask);
	printf("sigsuspend %d %s, got %d\n", r, strerror(errno), (int)got);
	printf("in handler: USR1 %d USR2 %d TERM %d\n", usr1_blocked_in_handler, usr2_blocked_in_handler, term_blocked_in_handler);
	printf("after: USR1 blocked %d, USR2 blocked %d, TERM blocked %d\n", blocked(SIGUSR1), blocked(SIGUSR2), blocked(SIGTERM));

	got = 0;
	pid_t parent = getpid();
	pid_t child = fork();
	if (child == 0) {
		kill(parent, SIGHUP); /* ignored: the wait goes on */
		usleep(50000);
		kill(parent, SIGUSR2);
		_exit(0);
	}
	sigemptyset(&wait_mask);
	r = sigsuspend(&wait_mask);
	printf("sigsuspend %d %s, got %d\n", r, strerror(errno), (int)got);
	int status;
	waitpid(child, &status, 0);
	printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
