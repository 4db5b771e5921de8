/* strings.c - string and memory functions from libc.
 * Prints each result; exit status is the number of failed checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wformat-truncation" /* truncation is what we test */

static int failures;

static void check(const char *what, int ok)
{
    printf("%-28s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

int main(void)
{
    char buf[256];
    char big[4096];

    printf("strlen(\"\")=%zu strlen(\"dune\")=%zu\n", strlen(""), strlen("dune"));
    check("strlen", strlen("") == 0 && strlen("hello, world") == 12);

    int c1 = strcmp("abc", "abd"), c2 = strcmp("abc", "abc"), c3 = strcmp("b", "a");
    printf("strcmp: %d %d %d\n", c1 < 0 ? -1 : c1 > 0, c2, c3 > 0);
    check("strcmp", c1 < 0 && c2 == 0 && c3 > 0);
    check("strncmp", strncmp("abcdef", "abcxyz", 3) == 0 && strncmp("abcdef", "abcxyz", 4) < 0);

    strcpy(buf, "copy me");
    printf("strcpy: %s\n", buf);
    check("strcpy", strcmp(buf, "copy me") == 0);
    strcat(buf, " please");
    check("strcat", strcmp(buf, "copy me please") == 0);

    /* memcpy of assorted sizes and alignments */
    for (int i = 0; i < (int)sizeof big; i++) big[i] = (char)(i * 7 + 3);
    int mok = 1;
    for (int off = 0; off < 8; off++) {
        for (int len = 0; len < 200; len += 13) {
            memset(buf, 0, sizeof buf);
            memcpy(buf + off, big + 3, (size_t)len);
            if (memcmp(buf + off, big + 3, (size_t)len) != 0) mok = 0;
        }
    }
    check("memcpy", mok);

    /* memmove with overlap in both directions */
    char mv[32];
    strcpy(mv, "0123456789");
    memmove(mv + 2, mv, 8);           /* forward overlap */
    printf("memmove fwd: %s\n", mv);
    check("memmove forward", strcmp(mv, "0101234567") == 0);
    strcpy(mv, "0123456789");
    memmove(mv, mv + 3, 7);           /* backward overlap */
    printf("memmove back: %s\n", mv);
    check("memmove backward", strcmp(mv, "3456789789") == 0);
    memmove(big + 1, big, 3000);
    check("memmove large", big[1] == (char)3 && big[2001] == (char)(2000 * 7 + 3));

    memset(buf, 'x', 100);
    buf[100] = 0;
    check("memset", strlen(buf) == 100 && buf[0] == 'x' && buf[99] == 'x');
    memset(buf, 0, sizeof buf);
    check("memset zero", buf[255] == 0 && buf[0] == 0);

    const char *hay = "the quick brown fox jumps over the lazy dog";
    const char *p = strchr(hay, 'q');
    const char *r = strrchr(hay, 'o');
    printf("strchr q @%ld, strrchr o @%ld\n", (long)(p - hay), (long)(r - hay));
    check("strchr", p == hay + 4 && strchr(hay, 'Z') == NULL && strchr(hay, 0) == hay + strlen(hay));
    check("strrchr", r == hay + 41);
    const char *s = strstr(hay, "lazy");
    printf("strstr lazy @%ld\n", (long)(s - hay));
    check("strstr", s == hay + 35 && strstr(hay, "cat") == NULL && strstr(hay, "") == hay);
    check("memchr", memchr(hay, 'z', 43) == hay + 37);

    char *end;
    long v1 = strtol("  -12345xyz", &end, 10);
    long v2 = strtol("0x7fff", NULL, 16);
    long v3 = strtol("0755", NULL, 0);
    long v4 = strtol("zz", NULL, 36);
    unsigned long v5 = strtoul("18446744073709551615", NULL, 10);
    printf("strtol: %ld %ld %ld %ld %lu rest=%s\n", v1, v2, v3, v4, v5, end);
    check("strtol", v1 == -12345 && v2 == 0x7fff && v3 == 0755 && v4 == 35 * 36 + 35 &&
          v5 == 18446744073709551615UL && strcmp(end, "xyz") == 0);
    check("atoi", atoi("  987") == 987);

    int n = snprintf(buf, 10, "%s-%d-%x", "abcdef", 12345, 0xff);
    printf("snprintf: n=%d buf=%s\n", n, buf);
    check("snprintf truncate", n == 15 && strcmp(buf, "abcdef-12") == 0);
    n = snprintf(buf, sizeof buf, "[%5.2s|%-4d|%c]", "xyz", 7, 'q');
    printf("snprintf: %s\n", buf);
    check("snprintf format", strcmp(buf, "[   xy|7   |q]") == 0 && n == 14);

    char tok[] = "a,b,,c";
    int ntok = 0;
    for (char *t = strtok(tok, ","); t; t = strtok(NULL, ",")) ntok++;
    check("strtok", ntok == 3);

    printf("failures: %d\n", failures);
    return failures;
}
