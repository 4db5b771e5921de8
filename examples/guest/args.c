/* args.c - prints argc, each argv[i] and the DUNESIM_TEST environment var. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    if (argv[argc] != NULL) { printf("argv not NULL-terminated\n"); return 1; }
    const char *v = getenv("DUNESIM_TEST");
    printf("DUNESIM_TEST=%s\n", v ? v : "(unset)");
    return 0;
}
