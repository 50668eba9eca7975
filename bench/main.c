/* main.c — goc-bench, the driver behind `make bench` (see bench.h for the registry).
 *
 *   goc-bench NAME [N]   run workload NAME with N operations (default: its own) on the main
 *                        goroutine and print "NAME <ns per op> ns/op[ extra]"
 *   goc-bench list       print the workload names, one a line, sorted
 *   goc-bench list -n    the same with each workload's default N after the name
 *
 * Workloads register from constructors that run before main(), so the registry is complete
 * by the time main() looks at it. The runtime reads GOC_MAXPROCS itself; goc-bench only
 * starts it with goc_main(). N may be written as an integer or in e-notation ("1e6").
 * Exit status: 0 on success, 2 for a usage error or an unknown workload.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "goc/rt.h"

#define MAX_WORKLOADS 128 /* room for every area's workloads (rt, chan, net, ...) */
#define EXIT_USAGE 2

typedef struct {
    const char *name;  /* as written in GOC_BENCH */
    goc_bench_fn fn;   /* returns the elapsed ns to divide by n */
    int64_t default_n; /* N when the command line gives none */
} workload;

static workload registry[MAX_WORKLOADS];
static int nworkloads;

char bench_extra[256];

void goc_bench_register(const char *name, goc_bench_fn fn, int64_t default_n) {
    if (nworkloads == MAX_WORKLOADS) {
        fprintf(stderr, "goc-bench: too many workloads (raise MAX_WORKLOADS)\n");
        exit(EXIT_USAGE);
    }
    registry[nworkloads++] = (workload){name, fn, default_n};
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const workload *)a)->name, ((const workload *)b)->name);
}

static const workload *find(const char *name) {
    for (int i = 0; i < nworkloads; i++)
        if (strcmp(registry[i].name, name) == 0) return &registry[i];
    return NULL;
}

/* A positive count: "1000000", "1e6", "2.5e5". 0 when malformed. */
static int64_t parse_n(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 1) || v > 9e18 || v != (double)(int64_t)v) return 0;
    return (int64_t)v;
}

typedef struct {
    const workload *w;
    int64_t n;
} run_args;

/* The main goroutine: run once and print the result; goc_main exits when this returns. */
static void run_main(void *arg) {
    const run_args *ra = arg;
    bench_extra[0] = '\0';
    int64_t ns = ra->w->fn(ra->n);
    if (ns < 0) {
        fprintf(stderr, "goc-bench: %s failed\n", ra->w->name);
        fflush(stdout);
        goc_exit(1);
    }
    printf("%s %.2f ns/op", ra->w->name, (double)ns / (double)ra->n);
    if (bench_extra[0]) printf(" %s", bench_extra);
    printf("\n");
    fflush(stdout);
}

static int usage(void) {
    fprintf(stderr, "usage: goc-bench NAME [N] | goc-bench list [-n]\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    qsort(registry, (size_t)nworkloads, sizeof registry[0], by_name);
    if (argc < 2) return usage();
    if (strcmp(argv[1], "list") == 0) {
        bool with_n = argc > 2 && strcmp(argv[2], "-n") == 0;
        for (int i = 0; i < nworkloads; i++) {
            if (with_n)
                printf("%s %lld\n", registry[i].name, (long long)registry[i].default_n);
            else
                printf("%s\n", registry[i].name);
        }
        return 0;
    }
    if (argc > 3) return usage();
    static run_args ra;
    ra.w = find(argv[1]);
    if (!ra.w) {
        fprintf(stderr, "goc-bench: unknown workload %s (try: goc-bench list)\n", argv[1]);
        return EXIT_USAGE;
    }
    ra.n = ra.w->default_n;
    if (argc == 3) {
        ra.n = parse_n(argv[2]);
        if (ra.n == 0) {
            fprintf(stderr, "goc-bench: N must be a positive integer, got %s\n", argv[2]);
            return EXIT_USAGE;
        }
    }
    goc_main(run_main, &ra);
}
