/* A directory descriptor keeps naming its directory: open /data/scratch/d, rename d away, put a
 * symlink to /secret (or the host's /etc) at the old name, then use the old descriptor —
 * getdents64, openat, fstatat, fchdir — and the cwd the same way. */
#include "fs-attack.h"

static void swap(const char *trap, const char *tag)
{
	char what[160];
	sys(SYS_mkdir, (long)"/data/scratch/d", 0755, 0, 0);
	long fd = sys(SYS_open, (long)"/data/scratch/d", O_RDONLY_ | O_DIRECTORY_, 0);
	long pfd = sys(SYS_open, (long)"/data/scratch/d", O_PATH_ | O_DIRECTORY_, 0);
	long cwd = sys(SYS_chdir, (long)"/data/scratch/d", 0, 0, 0);
	long r = sys(SYS_rename, (long)"/data/scratch/d", (long)"/data/scratch/away", 0, 0);
	long s = sys(SYS_rename, (long)trap, (long)"/data/scratch/d", 0, 0);
	printf("setup %s: open %ld, O_PATH %ld, chdir %ld, rename %ld, plant %ld\n", tag, fd, pfd, cwd, r, s);

	/* fstat on the old descriptors: the directory now called "away", not what "d" names now. */
	static unsigned long st[18], want[18];
	long got = sys(SYS_fstat, fd, (long)st);
	long away = sys(SYS_stat, (long)"/data/scratch/away", (long)want);
	if (got == 0 && away == 0 && st[1] != want[1])
		ESCAPED("%s: fstat on the old descriptor: inode %lu, not the renamed directory's %lu", tag, st[1], want[1]);
	else
		HELD("%s: fstat on the old descriptor (%ld, %ld)", tag, got, away);
	got = sys(SYS_fstat, pfd, (long)st);
	if (got == 0 && away == 0 && st[1] != want[1])
		ESCAPED("%s: fstat on the O_PATH descriptor: inode %lu, not the renamed directory's %lu", tag, st[1], want[1]);
	else
		HELD("%s: fstat on the O_PATH descriptor (%ld, %ld)", tag, got, away);

	snprintf(what, sizeof what, "%s: getdents64 on the old descriptor", tag);
	judge(what, fd < 0 ? fd : list(fd));
	snprintf(what, sizeof what, "%s: openat(old fd, \"S3CR3T-name\")", tag);
	judge(what, fd < 0 ? fd : slurp(fd, "S3CR3T-name"));
	snprintf(what, sizeof what, "%s: openat(old fd, \"passwd\")", tag);
	judge(what, fd < 0 ? fd : slurp(fd, "passwd"));
	snprintf(what, sizeof what, "%s: openat(O_PATH fd, \"S3CR3T-name\")", tag);
	judge(what, pfd < 0 ? pfd : slurp(pfd, "S3CR3T-name"));
	snprintf(what, sizeof what, "%s: openat(O_PATH fd, \"passwd\")", tag);
	judge(what, pfd < 0 ? pfd : slurp(pfd, "passwd"));
	snprintf(what, sizeof what, "%s: open(\"S3CR3T-name\") from the old cwd", tag);
	judge(what, slurp(AT_FDCWD_, "S3CR3T-name"));
	snprintf(what, sizeof what, "%s: open(\"passwd\") from the old cwd", tag);
	judge(what, slurp(AT_FDCWD_, "passwd"));
	snprintf(what, sizeof what, "%s: open(\".\") from the old cwd, listed", tag);
	long dot = sys(SYS_open, (long)".", O_RDONLY_ | O_DIRECTORY_, 0);
	judge(what, dot < 0 ? dot : list(dot));
	snprintf(what, sizeof what, "%s: open(\"/data/scratch/d\") (the planted link), listed", tag);
	long by_name = sys(SYS_open, (long)"/data/scratch/d", O_RDONLY_ | O_DIRECTORY_, 0);
	judge(what, by_name < 0 ? by_name : list(by_name));
	snprintf(what, sizeof what, "%s: fchdir(old fd), then open(\"S3CR3T-name\")", tag);
	long fc = fd < 0 ? fd : sys(SYS_fchdir, fd, 0, 0, 0);
	judge(what, fc < 0 ? fc : slurp(AT_FDCWD_, "S3CR3T-name"));
	snprintf(what, sizeof what, "%s: fchdir(old fd), then open(\"passwd\")", tag);
	judge(what, fc < 0 ? fc : slurp(AT_FDCWD_, "passwd"));

	/* Put things back for the next round (the names are the program's own). */
	sys(SYS_chdir, (long)"/", 0, 0, 0);
	sys(SYS_close, fd, 0, 0, 0);
	sys(SYS_close, pfd, 0, 0, 0);
	sys(SYS_close, dot, 0, 0, 0);
	sys(SYS_close, by_name, 0, 0, 0);
	sys(SYS_rename, (long)"/data/scratch/d", (long)trap, 0, 0);
	sys(SYS_rename, (long)"/data/scratch/away", (long)"/data/scratch/d", 0, 0);
}

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	swap("/data/scratch/trap", "symlink to /secret");
	swap("/data/scratch/hosttrap", "symlink to /etc");
	return 0;
}
