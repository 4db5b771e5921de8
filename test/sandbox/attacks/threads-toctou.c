/* Check-then-use with a real sibling thread on another CPU (run with --cpus 2), under a policy
 * that lets "/" be read and "/secret" not at all. Two races, each run ROUNDS times:
 *
 *   rewrite   the sibling flips the program's path buffer between "/pub/file" and "/secret/key"
 *             while this thread opens it: the runtime must give the kernel the bytes it checked
 *             (its copy), never the program's buffer read again.
 *   copies    the sibling makes nanosleep calls whose timespec holds the bytes "/secret/key"
 *             while this thread opens "/pub/file": the runtime copies the sibling's timespec into
 *             its memory too, and if the two threads shared one copy area, the sibling's copy
 *             could land on this thread's checked path between the check and the kernel's read.
 *
 * Prints ESCAPED when a successful open read the key, "held" otherwise, with the counts. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include "attack.h"

#define ROUNDS 400

static volatile int stop;
static char path[64] = "/pub/file";

static void *flipper(void *arg)
{
	(void)arg;
	while (!stop) {
		memcpy(path, "/secret/key", 12);
		__asm__ volatile("" ::: "memory"); /* both stores happen, in this order */
		memcpy(path, "/pub/file\0\0", 12);
		__asm__ volatile("" ::: "memory");
	}
	return 0;
}

static void *sleeper(void *arg)
{
	(void)arg;
	/* 16 bytes, the size of a struct timespec: the path and its NUL, then 0xff bytes that make
	 * tv_nsec negative, so each call is -EINVAL at once, after the runtime has copied it. */
	static char ts[16] = "/secret/key\0\xff\xff\xff\xff";
	while (!stop) raw6(SYS_nanosleep, (long)ts, 0, 0, 0, 0, 0);
	return 0;
}

static void race(const char *what, void *(*sibling)(void *), char *p)
{
	pthread_t t;
	stop = 0;
	if (pthread_create(&t, 0, sibling, 0) != 0) {
		printf("%s: pthread_create failed\n", what);
		return;
	}
	int opened = 0, refused = 0, key = 0;
	for (int i = 0; i < ROUNDS; i++) {
		long fd = raw6(SYS_open, (long)p, O_RDONLY, 0, 0, 0, 0);
		if (fd < 0) {
			refused++;
			continue;
		}
		opened++;
		char got[16] = {0};
		raw6(SYS_read, fd, (long)got, sizeof got - 1, 0, 0, 0);
		raw6(SYS_close, fd, 0, 0, 0, 0, 0);
		if (strncmp(got, "the key", 7) == 0) key++;
	}
	stop = 1;
	pthread_join(t, 0);
	if (key > 0)
		ESCAPED("%s: %d of %d opens read the key (%d refused)", what, key, ROUNDS, refused);
	else
		HELD("%s: no open read the key (%d opened, %d refused)", what, opened, refused);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "both";
	static char pub[16] = "/pub/file";
	if (!strcmp(what, "rewrite") || !strcmp(what, "both")) race("rewrite", flipper, path);
	if (!strcmp(what, "copies") || !strcmp(what, "both")) race("copies", sleeper, pub);
	return 0;
}
