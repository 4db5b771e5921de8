/*
 * A system call interrupted by a signal (signal(7), "Interruption of system calls and library
 * functions by signal handlers"): a blocking read on a pipe is restarted after a handler
 * installed with SA_RESTART, fails with EINTR after one without, and goes on untouched for a
 * signal that is ignored. The child sends the signals while the parent is blocked in read().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

static void install(int sig, int flags, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int data[2], go[2];
	if (pipe(data) != 0 || pipe(go) != 0)
		return 2;
	install(SIGUSR1, SA_RESTART, on_signal);
	install(SIGUSR2, 0, on_signal);
	install(SIGHUP, 0, SIG_IGN);
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0)
		return 3;
	if (child == 0) {
		char c;
		close(data[0]);
		close(go[1]);
		/* 1: SIGUSR1 (SA_RESTART) while the parent waits, then the byte it waits for. */
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		pause_ms(100);
		kill(parent, SIGUSR1);
		pause_ms(100);
		if (write(data[1], "a", 1) != 1)
			_exit(5);
		/* 2: SIGUSR2 (no SA_RESTART) while it waits: its read fails. */
		if (read(go[0], &c, 1) != 1)
			_exit(6);
		pause_ms(100);
		kill(parent, SIGUSR2);
		/* 3: SIGHUP, ignored, then the byte. */
		if (read(go[0], &c, 1) != 1)
			_exit(7);
		pause_ms(100);
		kill(parent, SIGHUP);
		pause_ms(100);
		if (write(data[1], "b", 1) != 1)
			_exit(8);
		read(go[0], &c, 1); /* end of file: the parent is done */
		_exit(0);
	}
	close(data[1]);
	close(go[0]);
	char buf[4];
	ssize_t n;

	write(go[1], "1", 1);
	n = read(data[0], buf, sizeof buf);
	printf("SA_RESTART: read %zd '%.*s' %s, handler ran %d\n", n, (int)(n > 0 ? n : 0), buf, n < 0 ? strerror(errno) : "", (int)handled);

	write(go[1], "2", 1);
	n = read(data[0], buf, sizeof buf);
	printf("no SA_RESTART: read %zd %s, handler ran %d\n", n, n < 0 ? strerror(errno) : "", (int)handled);

	write(go[1], "3", 1);
	n = read(data[0], buf, sizeof buf);
	printf("ignored signal: read %zd '%.*s', handler ran %d\n", n, (int)(n > 0 ? n : 0), buf, (int)handled);

	close(go[1]);
	int status;
	waitpid(child, &status, 0);
	printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
