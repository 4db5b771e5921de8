/* Symlinks planted by the program: to /secret, to the host's /etc, out of the root with "..",
 * through a chain of links, dangling ones that O_CREAT would follow; and the links a hostile
 * data set ships with (planted by the host) followed in every component. */
#include "fs-attack.h"

static void plant(const char *target, const char *link, const char *use)
{
	char what[200];
	long r = sys(SYS_symlink, (long)target, (long)link, 0, 0);
	snprintf(what, sizeof what, "symlink(\"%s\", \"%s\")", target, link);
	must_fail(what, r);
	snprintf(what, sizeof what, "open(\"%s\") through it", use);
	judge(what, slurp(AT_FDCWD_, use));
	long d = sys(SYS_open, (long)link, O_RDONLY_ | O_DIRECTORY_, 0);
	snprintf(what, sizeof what, "getdents64 of \"%s\"", link);
	judge(what, d < 0 ? d : list(d));
	sys(SYS_close, d, 0, 0, 0);
}

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	plant("/secret", "/data/scratch/l1", "/data/scratch/l1/S3CR3T-name");
	plant("/etc", "/data/scratch/l2", "/data/scratch/l2/passwd");
	plant("../../secret", "/data/scratch/l3", "/data/scratch/l3/S3CR3T-name");
	plant("../../../../../../../../etc", "/data/scratch/l4", "/data/scratch/l4/passwd");
	plant("/proc/self/root/etc", "/data/scratch/l5", "/data/scratch/l5/passwd");
	plant("/proc/self/cwd/secret", "/data/scratch/l6", "/data/scratch/l6/S3CR3T-name");
	/* A chain through a planted link: l7 -> trap -> /secret. */
	plant("trap", "/data/scratch/l7", "/data/scratch/l7/S3CR3T-name");
	/* A dangling link made while it leads nowhere, its target planted afterwards (the planted
	 * link renamed to that name): judged again when followed. */
	long made = sys(SYS_symlink, (long)"later", (long)"/data/scratch/l10");
	long moved = sys(SYS_rename, (long)"/data/scratch/trap", (long)"/data/scratch/later");
	printf("note: symlink(\"later\", \"/data/scratch/l10\") %ld, then rename(trap, later) %ld\n", made, moved);
	judge("open(\"/data/scratch/l10/S3CR3T-name\")", slurp(AT_FDCWD_, "/data/scratch/l10/S3CR3T-name"));
	long l10 = sys(SYS_open, (long)"/data/scratch/l10", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("getdents64 of /data/scratch/l10", l10 < 0 ? l10 : list(l10));
	sys(SYS_rename, (long)"/data/scratch/later", (long)"/data/scratch/trap");
	/* symlinkat with a dirfd, relative target. */
	long dfd = sys(SYS_open, (long)"/data/scratch", O_RDONLY_ | O_DIRECTORY_, 0);
	must_fail("symlinkat(\"../../secret/S3CR3T-name\", scratch fd, \"l9\")",
		  raw6(SYS_symlinkat, (long)"../../secret/S3CR3T-name", dfd, (long)"l9", 0, 0, 0));
	judge("open(\"/data/scratch/l9\")", slurp(AT_FDCWD_, "/data/scratch/l9"));

	/* A dangling link to a place outside the rules, then O_CREAT through it: a write out there
	 * (the test looks at /secret afterwards). */
	must_fail("symlink(\"/secret/new\", \"/data/scratch/dangle\")",
		  sys(SYS_symlink, (long)"/secret/new", (long)"/data/scratch/dangle", 0, 0));
	printf("note: open(\"/data/scratch/dangle\", O_CREAT|O_WRONLY) %ld\n",
	       sys(SYS_open, (long)"/data/scratch/dangle", O_CREAT_ | O_WRONLY_, 0644));
	must_fail("open(\"/data/scratch/trap/made\", O_CREAT|O_WRONLY) (planted link)",
		  sys(SYS_open, (long)"/data/scratch/trap/made", O_CREAT_ | O_WRONLY_, 0644));

	/* The planted links, followed in the middle and at the end of a path. */
	judge("open(\"/data/scratch/trap/S3CR3T-name\")", slurp(AT_FDCWD_, "/data/scratch/trap/S3CR3T-name"));
	judge("open(\"/data/scratch/hosttrap/passwd\")", slurp(AT_FDCWD_, "/data/scratch/hosttrap/passwd"));
	judge("open(\"/data/scratch/hosttrap/hostname\")", slurp(AT_FDCWD_, "/data/scratch/hosttrap/hostname"));
	long t = sys(SYS_open, (long)"/data/scratch/trap", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("getdents64 of /data/scratch/trap", t < 0 ? t : list(t));
	long h = sys(SYS_open, (long)"/data/scratch/hosttrap", O_RDONLY_ | O_DIRECTORY_, 0);
	judge("getdents64 of /data/scratch/hosttrap", h < 0 ? h : list(h));
	long st = sys(SYS_stat, (long)"/data/scratch/trap/S3CR3T-name", (long)buf, 0, 0);
	must_fail("stat(\"/data/scratch/trap/S3CR3T-name\")", st);
	return 0;
}
