/* matmul.c - 128x128 (or argv[1] x argv[1]) integer and double matrix
 * multiply, checksums. The six matrices are one malloc'd block (musl's malloc
 * takes it with mmap), so a run with large pages (dunesim exec --huge-pages)
 * can back them with 2 MiB pages. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 128;
    if (n < 8) return 2;
    size_t nn = (size_t)n * (size_t)n;
    double *da = malloc(nn * (3 * sizeof(double) + 3 * sizeof(int32_t)));
    if (!da) return 3;
    double *db = da + nn, *dc = db + nn;
    int32_t *ia = (int32_t *)(dc + nn), *ib = ia + nn, *ic = ib + nn;
#define IA(i, j) ia[(size_t)(i) * n + (j)]
#define IB(i, j) ib[(size_t)(i) * n + (j)]
#define IC(i, j) ic[(size_t)(i) * n + (j)]
#define DA(i, j) da[(size_t)(i) * n + (j)]
#define DB(i, j) db[(size_t)(i) * n + (j)]
#define DC(i, j) dc[(size_t)(i) * n + (j)]
    uint32_t s = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            s = s * 1664525u + 1013904223u;
            IA(i, j) = (int32_t)(s >> 20) - 2048;          /* -2048..2047 */
            s = s * 1664525u + 1013904223u;
            IB(i, j) = (int32_t)(s >> 20) - 2048;
            DA(i, j) = (double)IA(i, j) / 256.0 + 0.5;
            DB(i, j) = (double)IB(i, j) / 512.0 - 0.25;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int32_t acc = 0;
            double dacc = 0.0;
            for (int k = 0; k < n; k++) {
                acc += IA(i, k) * IB(k, j);
                dacc += DA(i, k) * DB(k, j);
            }
            IC(i, j) = acc;
            DC(i, j) = dacc;
        }
    uint64_t isum = 0;
    double dsum = 0.0, trace = 0.0;
    for (int i = 0; i < n; i++) {
        trace += DC(i, i);
        for (int j = 0; j < n; j++) {
            isum = isum * 131 + (uint32_t)IC(i, j);
            dsum += DC(i, j) * (double)((i + j) % 7 - 3);
        }
    }
    printf("int  checksum: %016llx c[0][0]=%d c[%d][%d]=%d\n",
           (unsigned long long)isum, IC(0, 0), n - 1, n - 1, IC(n - 1, n - 1));
    printf("double checksum: %.6f trace: %.6f c[5][7]=%.9f\n", dsum, trace, DC(5, 7));
    free(da);
    return 0;
}
