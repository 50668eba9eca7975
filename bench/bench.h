/* bench.h — the workload registry behind build/bench/goc-bench.
 *
 * Each bench/<area>.c file registers its workloads with GOC_BENCH(name, default_n). A workload
 * runs on the main goroutine, does n operations and returns the elapsed nanoseconds it wants
 * divided by n (usually goc_now() around the measured part). goc-bench prints
 * "NAME <ns per op> ns/op" and, when the workload sets bench_extra, that text after it
 * (for example "peak_rss_kib_per_g 4.1"). Every workload has a Go twin in bench/go/.
 */
#ifndef GOC_BENCH_H
#define GOC_BENCH_H

#include <stdint.h>
#include <stdio.h>

typedef int64_t (*goc_bench_fn)(int64_t n);
void goc_bench_register(const char *name, goc_bench_fn fn, int64_t default_n);
/* Extra text printed after "ns/op" on the result line. */
extern char bench_extra[256];

#define GOC_BENCH(name, default_n)                                                                 \
    static int64_t bench_##name(int64_t n);                                                        \
    __attribute__((constructor)) static void bench_reg_##name(void) {                              \
        goc_bench_register(#name, bench_##name, default_n);                                        \
    }                                                                                              \
    static int64_t bench_##name(int64_t n)

#endif
