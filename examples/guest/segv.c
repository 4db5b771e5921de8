/* segv.c - install a SIGSEGV handler (SA_SIGINFO), dereference bad pointers,
 * recover with siglongjmp, print what happened, exit 0.
 * Done three times to check the signal mask is restored by siglongjmp
 * (a still-blocked SIGSEGV would kill the process on the second fault). */
#include <stdio.h>
#include <signal.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

static sigjmp_buf env;
static volatile sig_atomic_t hits;
static volatile uintptr_t fault_addr;
static volatile int fault_code;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig != SIGSEGV) return;
    hits++;
    fault_addr = (uintptr_t)si->si_addr;
    fault_code = si->si_code;
    siglongjmp(env, 1);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) { puts("sigaction failed"); return 1; }

    static const uintptr_t bad[3] = { 0x10, 0x8, 0x1000 };
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(env, 1) == 0) {
            volatile int *p = (volatile int *)bad[i];
            int v = *p;                   /* faults */
            printf("no fault?! read %d\n", v);
            return 1;
        } else {
            printf("recovered from SIGSEGV #%d at %#lx (code %s)\n", (int)hits,
                   (unsigned long)fault_addr, fault_code == SEGV_MAPERR ? "SEGV_MAPERR" :
                   fault_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other");
        }
    }
    /* writing to read-only memory: a string literal lives in .rodata */
    static const char ro[] = "read-only";
    if (sigsetjmp(env, 1) == 0) {
        *(volatile char *)ro = 'R';
        puts("no fault on write to .rodata?!");
        return 1;
    } else {
        printf("recovered from write to .rodata (code %s)\n",
               fault_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other");
    }
    printf("hits=%d\n", (int)hits);
    return hits == 4 ? 0 : 1;
}
