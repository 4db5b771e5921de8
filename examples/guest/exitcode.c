/* exitcode.c - `exitcode N` exits with status N (0..255). No output.
 * With no argument exits 0. */
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 0;
    exit((int)strtol(argv[1], NULL, 0) & 0xff);
}
