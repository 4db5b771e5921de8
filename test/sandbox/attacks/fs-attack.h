/* Helpers of the fs-* attack programs (class 4: names are judged, objects are not).
 *
 * The tests run them in a temporary root laid out by test/sandbox/fs-escape.test.ts:
 *   /data/notes, /data/sub/deep/         readable (files rule: /data read-only)
 *   /data/scratch/                       writable (files rule: /data/scratch read-write)
 *   /data/scratch/trap -> /secret        planted symlinks (made by the host, not the program)
 *   /data/scratch/hosttrap -> /etc
 *   /data/escape -> ../secret/inner
 *   /secret/S3CR3T-name ("S3CR3T-content"), /secret/inner/   no rule: never to be read
 *   /etc/passwd ("guest passwd")         the guest's own /etc, also outside the rules
 * With the argument "null" a program runs under the null policy: then everything in the root is
 * the program's, and only the host's own files (outside the root) count as an escape.
 *
 * Each attempt prints "ESCAPED <what>: <what it got>" or "held <what> (<result>)". */
#ifndef FS_ATTACK_H
#define FS_ATTACK_H
#include <string.h>
#include "attack.h"

#define SYS_read 0
#define SYS_open 2
#define SYS_close 3
#define SYS_stat 4
#define SYS_fstat 5
#define SYS_lseek 8
#define SYS_getcwd 79
#define SYS_chdir 80
#define SYS_fchdir 81
#define SYS_rename 82
#define SYS_mkdir 83
#define SYS_link 86
#define SYS_symlink 88
#define SYS_readlink 89
#define SYS_getdents64 217
#define SYS_openat 257
#define SYS_mkdirat 258
#define SYS_newfstatat 262
#define SYS_renameat 264
#define SYS_linkat 265
#define SYS_symlinkat 266
#define SYS_renameat2 316

#define AT_FDCWD_ (-100)
#define O_RDONLY_ 0
#define O_WRONLY_ 01
#define O_CREAT_ 0100
#define O_DIRECTORY_ 0200000
#define O_PATH_ 010000000
#define AT_EMPTY_PATH_ 0x1000
#define AT_SYMLINK_FOLLOW_ 0x400

static int strict = 1;
static char buf[8192];

static void fs_init(int argc, char **argv)
{
	strict = !(argc > 1 && strcmp(argv[1], "null") == 0);
}

/* sys(nr, a[, b[, c[, d]]]): a raw system call, missing arguments 0. */
#define SYS4_(nr, a, b, c, d, ...) raw6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys(...) SYS4_(__VA_ARGS__, 0, 0, 0, 0)

/* Opens dirfd/path and reads it into buf: bytes read, or -errno. */
__attribute__((unused)) static long slurp(long dirfd, const char *path)
{
	buf[0] = 0;
	long fd = sys(SYS_openat, dirfd, (long)path, O_RDONLY_, 0);
	if (fd < 0)
		return fd;
	long n = sys(SYS_read, fd, (long)buf, sizeof buf - 1, 0);
	sys(SYS_close, fd, 0, 0, 0);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

/* Lists a directory descriptor into buf as " name name … ": bytes of records, or -errno. */
__attribute__((unused)) static long list(long fd)
{
	static char d[4096];
	size_t used = 0;
	long n, total = 0;
	buf[0] = 0;
	sys(SYS_lseek, fd, 0, 0, 0);
	while ((n = sys(SYS_getdents64, fd, (long)d, sizeof d, 0)) > 0) {
		for (long off = 0; off < n;) {
			unsigned short reclen = *(unsigned short *)(d + off + 16);
			const char *name = d + off + 19;
			size_t len = strlen(name);
			if (used + len + 2 < sizeof buf) {
				buf[used++] = ' ';
				memcpy(buf + used, name, len);
				used += len;
				buf[used] = 0;
			}
			off += reclen;
		}
		total += n;
	}
	if (used + 1 < sizeof buf) {
		buf[used++] = ' ';
		buf[used] = 0;
	}
	return n < 0 ? n : total;
}

/* Whether buf shows the host's own files: its /etc/passwd, or a listing of its /etc. */
static int host_leak(void)
{
	return strstr(buf, "root:x:0:0") || strstr(buf, " hostname ") || strstr(buf, " os-release ") ||
	       strstr(buf, " fstab ");
}

/* The verdict on an attempt that got `r` (>= 0: something is in buf). */
__attribute__((unused)) static void judge(const char *what, long r)
{
	if (r >= 0 && host_leak())
		ESCAPED("%s: the host's files: %.160s", what, buf);
	else if (r >= 0 && strict && strstr(buf, "S3CR3T"))
		ESCAPED("%s: outside the rules: %.160s", what, buf);
	else
		HELD("%s (%ld)", what, r);
}

/* The verdict on an attempt that must fail under the policy (strict) — an escape when it worked. */
__attribute__((unused)) static void must_fail(const char *what, long r)
{
	if (r >= 0 && strict)
		ESCAPED("%s: succeeded (%ld)", what, r);
	else
		HELD("%s (%ld)", what, r);
}
#endif
