/* qsort.c - qsort of 10000 pseudo-random ints (fixed LCG seed), checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

#define N 10000

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    static int a[N];
    uint32_t seed = 12345u;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;       /* classic LCG */
        a[i] = (int)(seed >> 1) - 0x40000000;     /* mix of negative and positive */
    }
    qsort(a, N, sizeof a[0], cmp_int);
    for (int i = 1; i < N; i++) {
        if (a[i - 1] > a[i]) {
            printf("NOT SORTED at %d\n", i);
            return 1;
        }
    }
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) sum = sum * 31 + (uint32_t)a[i];
    printf("min=%d max=%d median=%d\n", a[0], a[N - 1], a[N / 2]);
    printf("checksum=%016llx\n", (unsigned long long)sum);
    return 0;
}
