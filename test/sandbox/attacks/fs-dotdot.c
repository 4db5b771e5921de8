/* ".." after symlinks and from descriptors and the cwd: a name whose text stays in /data while
 * the walk goes through /secret, climbing above "/", and probing what exists where the rules
 * do not look. /data/escape is a planted link to ../secret/inner. */
#include "fs-attack.h"

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	/* The text says /data/S3CR3T-name; the walk says /secret/S3CR3T-name. */
	judge("open(\"/data/escape/../S3CR3T-name\")", slurp(AT_FDCWD_, "/data/escape/../S3CR3T-name"));
	/* Allowed at both ends, but through /secret/inner: a probe of what exists there. */
	must_fail("open(\"/data/escape/../../data/notes\")", slurp(AT_FDCWD_, "/data/escape/../../data/notes"));
	must_fail("chdir(\"/data/escape\")", sys(SYS_chdir, (long)"/data/escape", 0, 0, 0));
	judge("open(\"../S3CR3T-name\") from there", slurp(AT_FDCWD_, "../S3CR3T-name"));
	sys(SYS_chdir, (long)"/data/sub/deep", 0, 0, 0);
	judge("open(\"../../../secret/S3CR3T-name\") from /data/sub/deep", slurp(AT_FDCWD_, "../../../secret/S3CR3T-name"));
	long d = sys(SYS_open, (long)"/data/sub", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("openat(/data/sub fd, \"../../secret/S3CR3T-name\")", slurp(d, "../../secret/S3CR3T-name"));
	judge("openat(/data/sub fd, \"/secret/S3CR3T-name\")", slurp(d, "/secret/S3CR3T-name"));
	long e = sys(SYS_open, (long)"/data/escape", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("open(\"/data/escape\"), listed", e < 0 ? e : list(e));
	judge("openat(escape fd, \"../S3CR3T-name\")", e < 0 ? e : slurp(e, "../S3CR3T-name"));
	/* Above "/": the guest's own /etc at most. */
	judge("open(\"/../../../../../etc/passwd\")", slurp(AT_FDCWD_, "/../../../../../etc/passwd"));
	judge("open(\"/data/../../../etc/hostname\")", slurp(AT_FDCWD_, "/data/../../../etc/hostname"));
	long r = sys(SYS_open, (long)"/../../..", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("open(\"/../../..\"), listed", r < 0 ? r : list(r));
	sys(SYS_chdir, (long)"/data", 0, 0, 0);
	for (int i = 0; i < 8; i++)
		sys(SYS_chdir, (long)"..", 0, 0, 0);
	long c = sys(SYS_open, (long)".", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("chdir(\"..\") eight times from /data, then \".\" listed", c < 0 ? c : list(c));
	long n = sys(SYS_getcwd, (long)buf, sizeof buf, 0, 0);
	judge("getcwd after that", n < 0 ? n : (long)strlen(buf));
	return 0;
}
