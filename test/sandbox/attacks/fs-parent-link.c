/* Writes through a symlinked parent: a link the program may make (to /data, which it may read)
 * puts read-only files under a writable-looking name — /data/scratch/w/notes. Every call that
 * writes must be judged on the object, not on the name. */
#include "fs-attack.h"

#define SYS_rmdir 84
#define SYS_unlink 87
#define SYS_truncate 76

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	printf("note: symlink(\"/data\", \"/data/scratch/w\") %ld\n", sys(SYS_symlink, (long)"/data", (long)"/data/scratch/w"));
	must_fail("open(\"/data/scratch/w/notes\", O_WRONLY)", sys(SYS_open, (long)"/data/scratch/w/notes", O_WRONLY_, 0));
	must_fail("truncate(\"/data/scratch/w/notes\", 0)", sys(SYS_truncate, (long)"/data/scratch/w/notes", 0));
	must_fail("unlink(\"/data/scratch/w/notes\")", sys(SYS_unlink, (long)"/data/scratch/w/notes"));
	must_fail("rename(\"/data/scratch/w/notes\", \"/data/scratch/n2\")",
		  sys(SYS_rename, (long)"/data/scratch/w/notes", (long)"/data/scratch/n2"));
	must_fail("mkdir(\"/data/scratch/w/newdir\")", sys(SYS_mkdir, (long)"/data/scratch/w/newdir", 0755));
	must_fail("rmdir(\"/data/scratch/w/sub/deep/\")", sys(SYS_rmdir, (long)"/data/scratch/w/sub/deep/"));
	must_fail("symlink(\"x\", \"/data/scratch/w/newlink\")", sys(SYS_symlink, (long)"x", (long)"/data/scratch/w/newlink"));
	must_fail("link(\"/data/scratch/w/notes\", \"/data/scratch/n3\")", sys(SYS_link, (long)"/data/scratch/w/notes", (long)"/data/scratch/n3"));
	long dfd = sys(SYS_open, (long)"/data/scratch/w", O_RDONLY_ | O_DIRECTORY_, 0);
	must_fail("openat(w fd, \"notes\", O_WRONLY)", sys(SYS_openat, dfd, (long)"notes", O_WRONLY_, 0));
	must_fail("renameat(w fd, \"notes\", AT_FDCWD, \"/data/scratch/n4\")",
		  raw6(SYS_renameat, dfd, (long)"notes", AT_FDCWD_, (long)"/data/scratch/n4", 0, 0));
	/* Reading through it is fine: /data is readable. */
	long n = slurp(AT_FDCWD_, "/data/scratch/w/notes");
	printf("note: reading /data/scratch/w/notes: %ld\n", n);
	return 0;
}
