/*
 * execchain: what execve(2) keeps, drops and refuses, checked from both sides of the exec.
 *
 * Run with no arguments in a directory holding (or with PATH leading to) the binary. It creates
 * its own test files in the current directory, then:
 *   1. tries execve on bad input (a directory, a text file, a file without an execute bit, a
 *      truncated ELF, a symlink loop, bad pointers, over-long strings, broken "#!" lines, too
 *      deep a chain of scripts …) and prints each errno: the caller must still be there;
 *   2. sets up state (a close-on-exec and a plain descriptor, a caught, an ignored, a blocked and
 *      a pending signal, an alternate signal stack, an alarm) and execs itself ("stage2");
 *   3. stage2 prints what survived, then execs a chain of five "#!" scripts whose last one runs
 *      this program again with an optional argument ("final …"): the argv a script chain builds;
 *   4. final prints its argv, removes the files and exits 7.
 * Nothing printed depends on the pid or the host, so the output is the same natively and on a
 * model of Linux. ("execchain exec PATH ARG…" only makes that one execve, for other tests.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case ENOTDIR: return "ENOTDIR";
	case EINVAL: return "EINVAL";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ELOOP: return "ELOOP";
	default: return "other";
	}
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		printf("cannot write %s\n", name);
		exit(1);
	}
	close(fd);
	chmod(name, mode);
}

static char *self_image;
static size_t self_len;

/* The program's own bytes: ./execchain, or the first execchain along PATH (copied here). */
static void find_self(const char *argv0)
{
	char path[4096];
	int fd = open("./execchain", O_RDONLY);
	if (fd < 0 && strchr(argv0, '/') != NULL)
		fd = open(argv0, O_RDONLY);
	const char *p = getenv("PATH");
	while (fd < 0 && p != NULL && *p != '\0') {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		snprintf(path, sizeof path, "%.*s/execchain", (int)n, p);
		fd = open(path, O_RDONLY);
		p = colon ? colon + 1 : p + n;
	}
	if (fd < 0) {
		printf("cannot find my own binary\n");
		exit(1);
	}
	struct stat st;
	fstat(fd, &st);
	self_len = st.st_size;
	self_image = malloc(self_len);
	if (read(fd, self_image, self_len) != (ssize_t)self_len) {
		printf("cannot read my own binary\n");
		exit(1);
	}
	close(fd);
}

static const char *const FILES[] = {
	"notes.txt", "noexec", "trunc", "hdr", "loop1", "loop2", "empty.sh", "blank.sh", "missing.sh",
	"long.sh", "m1", "m2", "m3", "m4", "m5", "m6", "n1", "n2", "n3", "n4", "n5", "copied", NULL,
};

static void make_files(void)
{
	static char longline[400];
	char buf[64];
	if (access("./execchain", X_OK) != 0)
		write_file("copied", self_image, self_len, 0755), rename("copied", "execchain");
	write_file("notes.txt", "just text, no #! line\n", 22, 0755);
	write_file("noexec", self_image, self_len, 0644);
	write_file("trunc", self_image, 100, 0755); /* the ELF header, half a program header */
	write_file("hdr", self_image, 40, 0755);    /* e_ident and a little more */
	symlink("loop2", "loop1");
	symlink("loop1", "loop2");
	mkdir("d", 0755);
	write_file("empty.sh", "#!\n", 3, 0755);
	write_file("blank.sh", "#!  \t \nexit 0\n", 14, 0755);
	write_file("missing.sh", "#!./not-there -x\n", 17, 0755);
	/* A first line longer than the 256 bytes execve looks at, with no space in them. */
	memcpy(longline, "#!./", 4);
	memset(longline + 4, 'a', sizeof longline - 5);
	longline[sizeof longline - 1] = '\n';
	write_file("long.sh", longline, sizeof longline, 0755);
	/* m1 → m2 → … → m6 → ./execchain: one level of scripts too many. */
	for (int i = 1; i <= 6; i++) {
		int n = i < 6 ? snprintf(buf, sizeof buf, "#!./m%d\n", i + 1) : snprintf(buf, sizeof buf, "#!./execchain final\n");
		char name[8];
		snprintf(name, sizeof name, "m%d", i);
		write_file(name, buf, n, 0755);
	}
	/* n1 → … → n5 → ./execchain "final  two  words": as deep as Linux goes. */
	for (int i = 1; i <= 5; i++) {
		int n = i < 5 ? snprintf(buf, sizeof buf, "#! ./n%d\n", i + 1) : snprintf(buf, sizeof buf, "#!./execchain\tfinal  two  words \t\n");
		char name[8];
		snprintf(name, sizeof name, "n%d", i);
		write_file(name, buf, n, 0755);
	}
}

static void remove_files(void)
{
	for (int i = 0; FILES[i] != NULL; i++)
		unlink(FILES[i]);
	rmdir("d");
}

static int checks_failed;

static void try_exec(const char *what, const char *path, char *const argv[], char *const envp[], int want)
{
	errno = 0;
	int r = execve(path, argv, envp);
	int e = errno;
	printf("%-34s -> %d %s%s\n", what, r, errname(e), e == want ? "" : "   (UNEXPECTED)");
	if (e != want)
		checks_failed++;
}

static void bad_input(void)
{
	char *argv[] = { "x", NULL };
	/* An address no program maps (through a volatile, so the compiler cannot see it). */
	volatile uintptr_t unmapped = 16;
	char *bad_ptr_argv[] = { "x", (char *)unmapped, NULL };
	static char big[32 * 4096 + 1]; /* MAX_ARG_STRLEN bytes and the NUL */
	try_exec("a directory", "./d", argv, environ, EACCES);
	try_exec("a text file", "./notes.txt", argv, environ, ENOEXEC);
	try_exec("an ELF without an execute bit", "./noexec", argv, environ, EACCES);
	try_exec("a missing file", "./missing", argv, environ, ENOENT);
	try_exec("a file as a directory", "./execchain/x", argv, environ, ENOTDIR);
	try_exec("an ELF cut in its program headers", "./trunc", argv, environ, ENOEXEC);
	try_exec("an ELF cut in its header", "./hdr", argv, environ, ENOEXEC);
	try_exec("a symlink loop", "./loop1", argv, environ, ELOOP);
	try_exec("an empty name", "", argv, environ, ENOENT);
	try_exec("a name at an unmapped address", (char *)unmapped, argv, environ, EFAULT);
	try_exec("argv at an unmapped address", "./execchain", (char **)unmapped, environ, EFAULT);
	try_exec("an argv string unmapped", "./execchain", bad_ptr_argv, environ, EFAULT);
	try_exec("envp at an unmapped address", "./execchain", argv, (char **)unmapped, EFAULT);
	/* One string of MAX_ARG_STRLEN bytes before its NUL: one too many. */
	memset(big, 'b', sizeof big - 1);
	char *big_argv[] = { "x", big, NULL };
	try_exec("an argument of 128 KiB", "./execchain", big_argv, environ, E2BIG);
	/* 50 strings of 127 KiB: each fits, together they pass even the 6 MiB an unlimited stack allows. */
	big[127 * 1024] = '\0';
	char *many[52];
	many[0] = "x";
	for (int i = 1; i <= 50; i++)
		many[i] = big;
	many[51] = NULL;
	try_exec("6.4 MiB of arguments", "./execchain", many, environ, E2BIG);
	try_exec("#! with no interpreter", "./empty.sh", argv, environ, ENOEXEC);
	try_exec("#! with only blanks", "./blank.sh", argv, environ, ENOEXEC);
	try_exec("#! naming a missing interpreter", "./missing.sh", argv, environ, ENOENT);
	try_exec("#! line past 256 bytes", "./long.sh", argv, environ, ENOEXEC);
	try_exec("six levels of #!", "./m1", argv, environ, ELOOP);
	errno = 0;
	int r = syscall(SYS_execveat, AT_FDCWD, "./notes.txt", argv, environ, 0x1);
	printf("%-34s -> %d %s\n", "execveat with an unknown flag", r, errname(errno));
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	errno = 0;
	r = syscall(SYS_execveat, dfd, "", argv, environ, AT_EMPTY_PATH);
	printf("%-34s -> %d %s\n", "execveat of a directory's fd", r, errname(errno));
	close(dfd);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void stage1(void)
{
	char pidbuf[64];
	bad_input();
	printf("caller intact, unexpected results: %d\n", checks_failed);
	/* fd 10 is close-on-exec, fd 11 is not. */
	int fd = open("notes.txt", O_RDONLY);
	dup3(fd, 10, O_CLOEXEC);
	dup2(fd, 11);
	close(fd);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGHUP); /* blocked: stays pending across the exec */
	static char altstack[16384];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
	sigaltstack(&ss, NULL);
	alarm(1000);
	snprintf(pidbuf, sizeof pidbuf, "EXECCHAIN_PID=%d", (int)getpid());
	char *envp[] = { pidbuf, "EXECCHAIN_VAR=one two", "", "BYTES=\xc3\xa9\x80", NULL };
	char *argv[] = { "./execchain", "stage2", "two words", "", "--flag=x", "\xff\xfe not UTF-8", NULL };
	printf("stage1: exec ./execchain stage2\n");
	fflush(stdout);
	execve("./execchain", argv, envp);
	printf("stage1: execve failed: %s\n", errname(errno));
	exit(1);
}

/* A string with its bytes outside printable ASCII as \xNN: execve must pass bytes unchanged. */
static void print_escaped(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p >= 0x20 && *p < 0x7f)
			putchar(*p);
		else
			printf("\\x%02x", *p);
}

static void stage2(int argc, char **argv)
{
	printf("stage2: argc=%d\n", argc);
	for (int i = 0; i < argc; i++) {
		printf("  argv[%d]=\"", i);
		print_escaped(argv[i]);
		printf("\"\n");
	}
	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, "EXECCHAIN_PID=", 14) != 0)
		{
			printf("  env \"");
			print_escaped(*e);
			printf("\"\n");
		}
	const char *pid = getenv("EXECCHAIN_PID");
	printf("pid kept: %s\n", pid != NULL && atoi(pid) == (int)getpid() ? "yes" : "no");
	errno = 0;
	int r10 = fcntl(10, F_GETFD);
	printf("close-on-exec fd 10: %s\n", r10 == -1 && errno == EBADF ? "closed" : "open");
	printf("plain fd 11: %s\n", fcntl(11, F_GETFD) == 0 ? "open" : "closed");
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	printf("caught SIGUSR1: %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "still caught");
	sigaction(SIGUSR2, NULL, &sa);
	printf("ignored SIGUSR2: %s\n", sa.sa_handler == SIG_IGN ? "SIG_IGN" : "not ignored");
	sigset_t set;
	sigprocmask(SIG_BLOCK, NULL, &set);
	printf("blocked: SIGINT %d SIGHUP %d SIGUSR1 %d\n", sigismember(&set, SIGINT), sigismember(&set, SIGHUP), sigismember(&set, SIGUSR1));
	sigpending(&set);
	printf("pending: SIGHUP %d\n", sigismember(&set, SIGHUP));
	stack_t ss;
	sigaltstack(NULL, &ss);
	printf("sigaltstack: %s\n", (ss.ss_flags & SS_DISABLE) ? "disabled" : "still set");
	unsigned left = alarm(0);
	printf("alarm kept: %s\n", left > 0 && left <= 1000 ? "yes" : "no");
	char *nargv[] = { "./n1", "arg one", NULL };
	char *nenvp[] = { "EXECCHAIN_VAR=final", NULL };
	printf("stage2: exec ./n1 (five levels of #!)\n");
	fflush(stdout);
	execve("./n1", nargv, nenvp);
	printf("stage2: execve failed: %s\n", errname(errno));
	exit(1);
}

static void final(int argc, char **argv)
{
	printf("final: argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("  argv[%d]=\"%s\"\n", i, argv[i]);
	printf("  env EXECCHAIN_VAR=\"%s\"\n", getenv("EXECCHAIN_VAR") ? getenv("EXECCHAIN_VAR") : "(unset)");
	printf("plain fd 11 still open: %s\n", fcntl(11, F_GETFD) == 0 ? "yes" : "no");
	remove_files();
	exit(7);
}

int main(int argc, char **argv)
{
	/* "exec PATH ARG…": execve(PATH, [ARG…]) and nothing else (for tests of the exec itself). */
	if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
		execve(argv[2], argv + 3, environ);
		printf("execve %s: %s\n", argv[2], errname(errno));
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "stage2") == 0)
		stage2(argc, argv);
	if (argc >= 2 && strncmp(argv[1], "final", 5) == 0)
		final(argc, argv);
	find_self(argv[0]);
	make_files();
	stage1();
	return checks_failed;
}
