/* fileio.c - file I/O relative to the current directory: open/O_CREAT,
 * write, lseek, read, fstat, pread, ftruncate, rename, stdio fopen/fgets,
 * opendir/readdir of "." (counting only names we created), unlink.
 * Exit status = number of failed checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

static int failures;
static void check(const char *what, int ok)
{
    printf("%-24s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

#define PREFIX "dunesim-fileio-"

int main(void)
{
    const char *name = PREFIX "a.txt";
    const char *msg = "Hello from the guest!\nSecond line.\n";
    size_t mlen = strlen(msg);
    unlink(name);

    int fd = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);
    check("open O_CREAT", fd >= 0);
    if (fd < 0) return 100;
    ssize_t w = write(fd, msg, mlen);
    check("write", w == (ssize_t)mlen);
    off_t pos = lseek(fd, 0, SEEK_CUR);
    check("lseek SEEK_CUR", pos == (off_t)mlen);
    pos = lseek(fd, 6, SEEK_SET);
    check("lseek SEEK_SET", pos == 6);
    char buf[128];
    memset(buf, 0, sizeof buf);
    ssize_t r = read(fd, buf, 4);
    printf("read after seek: '%s'\n", buf);
    check("read", r == 4 && memcmp(buf, "from", 4) == 0);
    pos = lseek(fd, -3, SEEK_END);
    check("lseek SEEK_END", pos == (off_t)mlen - 3);
    r = read(fd, buf, sizeof buf);
    check("read to EOF", r == 3 && memcmp(buf, "e.\n", 3) == 0);
    r = read(fd, buf, sizeof buf);
    check("read at EOF", r == 0);
    r = pread(fd, buf, 6, 0);
    check("pread", r == 6 && memcmp(buf, "Hello ", 6) == 0);

    struct stat st;
    check("fstat", fstat(fd, &st) == 0);
    printf("size=%lld regular=%d mode=%o\n", (long long)st.st_size, S_ISREG(st.st_mode) ? 1 : 0,
           (unsigned)(st.st_mode & 0777) & ~0022u);
    check("fstat size", st.st_size == (off_t)mlen && S_ISREG(st.st_mode));
    check("ftruncate", ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5);
    check("close", close(fd) == 0);

    /* a second and third file, created through stdio */
    FILE *f = fopen(PREFIX "b.txt", "w");
    check("fopen w", f != NULL);
    if (f) { for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i); fclose(f); }
    f = fopen(PREFIX "b.txt", "r");
    int lines = 0; long lsum = 0;
    if (f) {
        while (fgets(buf, sizeof buf, f)) { lines++; lsum += atoi(buf + 5); }
        fclose(f);
    }
    printf("stdio lines=%d sum=%ld\n", lines, lsum);
    check("fgets", lines == 100 && lsum == 4950);
    check("rename", rename(PREFIX "b.txt", PREFIX "c.txt") == 0);
    check("stat", stat(PREFIX "c.txt", &st) == 0 && st.st_size == 790);
    check("stat missing", stat(PREFIX "b.txt", &st) == -1);

    DIR *d = opendir(".");
    check("opendir", d != NULL);
    int ours = 0, total = 0, dot = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            total++;
            if (strcmp(de->d_name, ".") == 0) dot = 1;
            if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) == 0) ours++;
        }
        closedir(d);
    }
    printf("readdir: our entries=%d (has dot: %d)\n", ours, dot);
    check("readdir", ours == 2 && dot == 1 && total >= 4);

    check("unlink a", unlink(name) == 0);
    check("unlink c", unlink(PREFIX "c.txt") == 0);
    check("open missing", open(name, O_RDONLY) == -1);
    printf("failures: %d\n", failures);
    return failures;
}
