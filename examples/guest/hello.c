/* hello.c - basic printf formatting of integers, strings and chars.
 * Built twice: as a static (ET_EXEC) binary `hello` and as a static-pie
 * (ET_DYN, no PT_INTERP) binary `hello-pie`. Output must be identical. */
#include <stdio.h>
#include <stdint.h>
#include <limits.h>

int main(void)
{
    int count = 0;
    count += printf("Hello, Dune!\n");
    count += printf("int: %d %d %d %d\n", 0, 1, 42, 2147483647);
    count += printf("neg: %d %d %d\n", -1, -42, INT_MIN);
    count += printf("unsigned: %u %u\n", 0u, 4294967295u);
    count += printf("long: %ld %ld\n", 9223372036854775807L, (long)-9223372036854775807L - 1);
    count += printf("ulong: %lu\n", 18446744073709551615UL);
    count += printf("hex: %x %X %#x %08x %lx\n", 0xdeadbeefu, 0xcafeu, 255u, 0x1234u, 0x0123456789abcdefUL);
    count += printf("oct: %o %#o\n", 8u, 511u);
    count += printf("width: [%5d] [%-5d] [%05d] [%+d] [% d]\n", 42, 42, 42, 42, 42);
    count += printf("str: %s [%10s] [%-10s] [%.3s]\n", "dune", "right", "left", "truncate");
    count += printf("chars: %c%c%c %c\n", 'a', 'b', 'c', '!');
    count += printf("ptr-null: %p\n", (void *)0);
    count += printf("percent: 100%%\n");
    printf("total chars printed before this line: %d\n", count);
    return 0;
}
