/* sieve.c - sieve of Eratosthenes, primes below 2 000 000. */
#include <stdio.h>
#include <string.h>

#define LIMIT 2000000

static unsigned char composite[LIMIT];

int main(void)
{
    memset(composite, 0, sizeof composite);
    long count = 0, last = 0;
    unsigned long long sum = 0;
    for (long i = 2; i < LIMIT; i++) {
        if (composite[i]) continue;
        count++; last = i; sum += (unsigned long long)i;
        for (long j = i * i; j < LIMIT; j += i) composite[j] = 1;
    }
    printf("primes below %d: %ld\n", LIMIT, count);
    printf("largest: %ld sum: %llu\n", last, sum);
    return count == 148933 ? 0 : 1;
}
