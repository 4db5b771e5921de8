/* Hard links of a file outside the rules into the writable directory: link, linkat (with
 * AT_SYMLINK_FOLLOW through a planted link, and AT_EMPTY_PATH from a descriptor). */
#include "fs-attack.h"

int main(int argc, char **argv)
{
	fs_init(argc, argv);
	must_fail("link(\"/secret/S3CR3T-name\", \"/data/scratch/h1\")",
		  sys(SYS_link, (long)"/secret/S3CR3T-name", (long)"/data/scratch/h1", 0, 0));
	judge("open(\"/data/scratch/h1\")", slurp(AT_FDCWD_, "/data/scratch/h1"));
	must_fail("linkat(AT_FDCWD, \"/data/scratch/trap/S3CR3T-name\", AT_FDCWD, \"/data/scratch/h2\", AT_SYMLINK_FOLLOW)",
		  raw6(SYS_linkat, AT_FDCWD_, (long)"/data/scratch/trap/S3CR3T-name", AT_FDCWD_, (long)"/data/scratch/h2", AT_SYMLINK_FOLLOW_, 0));
	judge("open(\"/data/scratch/h2\")", slurp(AT_FDCWD_, "/data/scratch/h2"));
	must_fail("link(\"/data/notes\", \"/data/scratch/h3\") (read-only into read-write)",
		  sys(SYS_link, (long)"/data/notes", (long)"/data/scratch/h3", 0, 0));
	long fd = sys(SYS_open, (long)"/data/notes", O_RDONLY_, 0);
	must_fail("linkat(notes fd, \"\", AT_FDCWD, \"/data/scratch/h4\", AT_EMPTY_PATH)",
		  raw6(SYS_linkat, fd, (long)"", AT_FDCWD_, (long)"/data/scratch/h4", AT_EMPTY_PATH_, 0));
	/* And the other way: a link of the program's file under /secret. */
	sys(SYS_open, (long)"/data/scratch/mine", O_CREAT_ | O_WRONLY_, 0644);
	must_fail("link(\"/data/scratch/mine\", \"/secret/planted\")",
		  sys(SYS_link, (long)"/data/scratch/mine", (long)"/secret/planted", 0, 0));
	return 0;
}
