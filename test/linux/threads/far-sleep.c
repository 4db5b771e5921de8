/* Two threads asleep in nanosleep for 2^62 seconds (valid for Linux, which clamps it to
 * KTIME_MAX, 292 years). Nothing else can wake them: the run must end with a report, not jump
 * the clocks to ~1e28 cycles where an instruction's cost no longer moves them (a hang). */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static void *sleeper(void *arg) {
  struct timespec t = { (time_t)1 << 62, 0 };
  nanosleep(&t, 0);
  return arg;
}

int main(void) {
  pthread_t th;
  pthread_create(&th, 0, sleeper, 0);
  puts("sleeping");
  fflush(stdout);
  sleeper(0);
  pthread_join(th, 0);
  puts("woke");
  return 0;
}
