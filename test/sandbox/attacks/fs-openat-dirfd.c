/* Descriptors to places outside the rules, and *at() calls whose dirfd or path leaves them:
 * O_PATH and O_DIRECTORY opens of /secret and "/", then openat, newfstatat (AT_EMPTY_PATH),
 * fchdir and getdents from them. */
#include "fs-attack.h"

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	long s = sys(SYS_open, (long)"/secret", O_RDONLY_ | O_DIRECTORY_, 0);
	must_fail("open(\"/secret\", O_DIRECTORY)", s);
	judge("getdents64 of it", s < 0 ? s : list(s));
	long sp = sys(SYS_open, (long)"/secret", O_PATH_ | O_DIRECTORY_, 0);
	must_fail("open(\"/secret\", O_PATH)", sp);
	judge("openat(that O_PATH fd, \"S3CR3T-name\")", sp < 0 ? sp : slurp(sp, "S3CR3T-name"));
	long root = sys(SYS_open, (long)"/", O_PATH_ | O_DIRECTORY_, 0);
	must_fail("open(\"/\", O_PATH)", root);
	judge("openat(\"/\" fd, \"secret/S3CR3T-name\")", root < 0 ? root : slurp(root, "secret/S3CR3T-name"));
	long fc = root < 0 ? root : sys(SYS_fchdir, root, 0, 0, 0);
	judge("fchdir(\"/\" fd), then open(\"secret/S3CR3T-name\")", fc < 0 ? fc : slurp(AT_FDCWD_, "secret/S3CR3T-name"));

	long data = sys(SYS_open, (long)"/data", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("openat(/data fd, \"../secret/S3CR3T-name\")", slurp(data, "../secret/S3CR3T-name"));
	judge("openat(/data fd, \"escape/../S3CR3T-name\")", slurp(data, "escape/../S3CR3T-name"));
	judge("openat(/data fd, \"scratch/trap/S3CR3T-name\")", slurp(data, "scratch/trap/S3CR3T-name"));
	long st = raw6(SYS_newfstatat, data, (long)"../secret/S3CR3T-name", (long)buf, 0, 0, 0);
	must_fail("newfstatat(/data fd, \"../secret/S3CR3T-name\")", st);
	long e = sys(SYS_openat, data, (long)"scratch/trap", O_PATH_ | O_DIRECTORY_, 0);
	must_fail("openat(/data fd, \"scratch/trap\", O_PATH) (a planted link to /secret)", e);
	long es = e < 0 ? e : raw6(SYS_newfstatat, e, (long)"", (long)buf, AT_EMPTY_PATH_, 0, 0);
	must_fail("newfstatat(that fd, \"\", AT_EMPTY_PATH)", es);
	judge("getdents64 from /data fd", list(data));
	/* A descriptor number that is not a directory, and a closed one. */
	long notes = sys(SYS_open, (long)"/data/notes", O_RDONLY_, 0);
	judge("openat(a file's fd, \"../secret/S3CR3T-name\")", slurp(notes, "../secret/S3CR3T-name"));
	judge("openat(closed fd 99, \"../secret/S3CR3T-name\")", slurp(99, "../secret/S3CR3T-name"));
	return 0;
}
