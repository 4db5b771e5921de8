/* Renames across rules: moving what a rule protects under another rule, moving a directory that
 * holds a rule, replacing a rule's directory, moving a file out of the read-only part into the
 * writable one (and a planted link's target with it). */
#include "fs-attack.h"

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	must_fail("rename(\"/secret/S3CR3T-name\", \"/data/scratch/got\")",
		  sys(SYS_rename, (long)"/secret/S3CR3T-name", (long)"/data/scratch/got", 0, 0));
	judge("open(\"/data/scratch/got\")", slurp(AT_FDCWD_, "/data/scratch/got"));
	must_fail("rename(\"/secret\", \"/data/scratch/sec\")",
		  sys(SYS_rename, (long)"/secret", (long)"/data/scratch/sec", 0, 0));
	judge("open(\"/data/scratch/sec/S3CR3T-name\")", slurp(AT_FDCWD_, "/data/scratch/sec/S3CR3T-name"));
	must_fail("rename(\"/data/notes\", \"/data/scratch/notes\") (read-only out)",
		  sys(SYS_rename, (long)"/data/notes", (long)"/data/scratch/notes", 0, 0));
	must_fail("rename(\"/data/scratch\", \"/data/scratch2\") (the rule's own directory)",
		  sys(SYS_rename, (long)"/data/scratch", (long)"/data/scratch2", 0, 0));
	must_fail("rename(\"/data/scratch/trap/S3CR3T-name\", \"/data/scratch/got2\") (through a planted link)",
		  sys(SYS_rename, (long)"/data/scratch/trap/S3CR3T-name", (long)"/data/scratch/got2", 0, 0));
	must_fail("renameat2(AT_FDCWD, \"/data/scratch/x\", AT_FDCWD, \"/secret/x\")",
		  (sys(SYS_mkdir, (long)"/data/scratch/x", 0755, 0, 0),
		   raw6(SYS_renameat2, AT_FDCWD_, (long)"/data/scratch/x", AT_FDCWD_, (long)"/secret/x", 0, 0)));
	long sfd = sys(SYS_open, (long)"/data/scratch", O_RDONLY_ | O_DIRECTORY_, 0);
	must_fail("renameat(scratch fd, \"../../secret\", scratch fd, \"s\")",
		  raw6(SYS_renameat, sfd, (long)"../../secret", sfd, (long)"s", 0, 0));
	/* The planted link moved to where the program may write: still leads to /secret when followed. */
	long mv = sys(SYS_rename, (long)"/data/scratch/trap", (long)"/data/scratch/mytrap", 0, 0);
	printf("rename of the planted link itself: %ld\n", mv);
	judge("open(\"/data/scratch/mytrap/S3CR3T-name\")", slurp(AT_FDCWD_, "/data/scratch/mytrap/S3CR3T-name"));
	sys(SYS_rename, (long)"/data/scratch/mytrap", (long)"/data/scratch/trap", 0, 0);
	return 0;
}
