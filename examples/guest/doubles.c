/* doubles.c - printf of doubles with %f %e %g at various precisions.
 * musl's printf converts through long double, so this also exercises
 * x87 instructions (fld/fmul/fistp...) as well as SSE2 scalar math. */
#include <stdio.h>

static const double vals[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1, -0.1, 3.141592653589793, -2.718281828459045,
    123456.789, -98765.4321, 1e10, 1.5e-7, 6.02214076e23, -1.602176634e-19,
    1e300, 1e-300, 2.2250738585072014e-308, 1.7976931348623157e308, 4.9e-324,
    0.125, 1.0 / 3.0, 2.0 / 3.0, 1e15 + 0.3, 999999.9999999,
};

int main(void)
{
    int n = (int)(sizeof vals / sizeof vals[0]);
    for (int i = 0; i < n; i++) {
        double v = vals[i];
        printf("[%2d] f=%f .2f=%.2f .0f=%.0f e=%e .3e=%.3e g=%g .10g=%.10g .17g=%.17g\n",
               i, v, v, v, v, v, v, v, v);
    }
    /* widths and flags */
    printf("[%10.3f] [%-10.3f] [%+.3f] [%010.3f] [%#.0f]\n", 3.14159, 3.14159, 3.14159, -3.14159, 2.0);
    printf("%.20f\n", 0.1);
    printf("%.0f %.0f %.0f %.0f\n", 0.5, 1.5, 2.5, -0.5); /* round-half-even */
    /* some arithmetic so the values are computed at run time */
    volatile double a = 1.0, acc = 0.0;
    for (int i = 1; i <= 1000; i++) { acc += a / (double)i; }
    printf("harmonic(1000) = %.15f\n", acc);
    volatile double p = 1.0;
    for (int i = 0; i < 60; i++) p *= 2.0;
    printf("2^60 = %.1f\n", p);
    volatile float f = 1.0f / 3.0f;
    printf("float 1/3 = %.9f\n", (double)f);
    /* integer <-> double conversions */
    volatile double big = 9007199254740993.0; /* rounds to 2^53 */
    volatile long l = (long)big;
    printf("(long)9007199254740993.0 = %ld\n", l);
    volatile long m = -123456789012345L;
    printf("(double)%ld = %.1f\n", (long)m, (double)m);
    return 0;
}
