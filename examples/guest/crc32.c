/* crc32.c - table-driven CRC-32 (IEEE 802.3, reflected 0xEDB88320) of a
 * generated 4 MiB buffer (or argv[1] MiB), plus the standard check value of
 * "123456789". The buffer is malloc'd (musl's malloc takes it with mmap), so a
 * run with large pages (dunesim exec --huge-pages) can back it with 2 MiB pages. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

int main(int argc, char **argv)
{
    unsigned mib = argc > 1 ? (unsigned)atoi(argv[1]) : 4;
    size_t size = (size_t)mib << 20;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 3;
    make_table();
    uint32_t check = crc32((const unsigned char *)"123456789", 9);
    printf("crc32(\"123456789\") = %08x\n", check);
    uint64_t x = 0x0123456789abcdefull;
    for (size_t i = 0; i < size; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull; /* 64-bit LCG */
        buf[i] = (unsigned char)(x >> 56);
    }
    printf("crc32(%u MiB buffer) = %08x\n", mib, crc32(buf, size));
    free(buf);
    return check == 0xcbf43926u ? 0 : 1;
}
