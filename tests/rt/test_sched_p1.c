/* test_sched_p1.c — the scheduler tests of test_sched.c at GOMAXPROCS=1. */
#define SCHED_TEST_PROCS "1"
#include "test_sched.c"
