/* qsort.c - qsort of 10000 (or argv[1]) pseudo-random ints (fixed LCG seed),
 * checksum. The array is malloc'd (a large one is taken with mmap, so a run
 * with large pages, dunesim exec --huge-pages, can back it with 2 MiB pages). */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    if (n < 2) return 2;
    int *a = malloc((size_t)n * sizeof a[0]);
    if (!a) return 3;
    uint32_t seed = 12345u;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;       /* classic LCG */
        a[i] = (int)(seed >> 1) - 0x40000000;     /* mix of negative and positive */
    }
    qsort(a, (size_t)n, sizeof a[0], cmp_int);
    for (int i = 1; i < n; i++) {
        if (a[i - 1] > a[i]) {
            printf("NOT SORTED at %d\n", i);
            return 1;
        }
    }
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) sum = sum * 31 + (uint32_t)a[i];
    printf("min=%d max=%d median=%d\n", a[0], a[n - 1], a[n / 2]);
    printf("checksum=%016llx\n", (unsigned long long)sum);
    free(a);
    return 0;
}
