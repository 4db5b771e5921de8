/* sieve.c - sieve of Eratosthenes, primes below 2 000 000 (or below argv[1]).
 * The table is malloc'd (a large block: musl's malloc takes it with mmap), so a
 * run with large pages (dunesim exec --huge-pages) can back it with 2 MiB pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 2000000

int main(int argc, char **argv)
{
    long limit = argc > 1 ? atol(argv[1]) : LIMIT;
    if (limit < 3) return 2;
    unsigned char *composite = malloc((size_t)limit);
    if (!composite) return 3;
    memset(composite, 0, (size_t)limit);
    long count = 0, last = 0;
    unsigned long long sum = 0;
    for (long i = 2; i < limit; i++) {
        if (composite[i]) continue;
        count++; last = i; sum += (unsigned long long)i;
        for (long j = i * i; j < limit; j += i) composite[j] = 1;
    }
    printf("primes below %ld: %ld\n", limit, count);
    printf("largest: %ld sum: %llu\n", last, sum);
    free(composite);
    return limit != LIMIT || count == 148933 ? 0 : 1;
}
