/* matmul.c - 128x128 integer and double matrix multiply, checksums. */
#include <stdio.h>
#include <stdint.h>

#define N 128

static int32_t ia[N][N], ib[N][N], ic[N][N];
static double da[N][N], db[N][N], dc[N][N];

int main(void)
{
    uint32_t s = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            s = s * 1664525u + 1013904223u;
            ia[i][j] = (int32_t)(s >> 20) - 2048;          /* -2048..2047 */
            s = s * 1664525u + 1013904223u;
            ib[i][j] = (int32_t)(s >> 20) - 2048;
            da[i][j] = (double)ia[i][j] / 256.0 + 0.5;
            db[i][j] = (double)ib[i][j] / 512.0 - 0.25;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t acc = 0;
            double dacc = 0.0;
            for (int k = 0; k < N; k++) {
                acc += ia[i][k] * ib[k][j];
                dacc += da[i][k] * db[k][j];
            }
            ic[i][j] = acc;
            dc[i][j] = dacc;
        }
    uint64_t isum = 0;
    double dsum = 0.0, trace = 0.0;
    for (int i = 0; i < N; i++) {
        trace += dc[i][i];
        for (int j = 0; j < N; j++) {
            isum = isum * 131 + (uint32_t)ic[i][j];
            dsum += dc[i][j] * (double)((i + j) % 7 - 3);
        }
    }
    printf("int  checksum: %016llx c[0][0]=%d c[127][127]=%d\n",
           (unsigned long long)isum, ic[0][0], ic[N - 1][N - 1]);
    printf("double checksum: %.6f trace: %.6f c[5][7]=%.9f\n", dsum, trace, dc[5][7]);
    return 0;
}
