// main.go — go-bench, the Go twin of build/bench/goc-bench (bench/main.c).
//
//	go-bench NAME [N]   run workload NAME with N operations and print
//	                    "NAME <ns per op> ns/op[ extra]"
//	go-bench list       print the workload names, one a line, sorted
//
// Each bench/go/<area>.go file registers its workloads from init() into the map workloads:
// the function runs n operations and returns the nanoseconds per operation, and may set
// benchExtra to text printed after "ns/op" (for example "peak_rss_kib_per_g 2.7"). It may
// also put its default N into defaultN; without one, fallbackN is used. `make bench`
// (bench/run.sh) passes the same N to both binaries, so the defaults here matter only when
// go-bench is run by hand. GOMAXPROCS comes from the environment, as for any Go program.
// Exit status: 0 on success, 2 for a usage error or an unknown workload.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

// fallbackN is the N of a workload that registered no default.
const fallbackN = 100000

// exitUsage is the exit status for usage errors, as goc-bench's.
const exitUsage = 2

// workloads maps a name to a function that runs n operations and returns ns per operation.
var workloads = map[string]func(n int) float64{}

// defaultN maps a name to its N when the command line gives none (optional).
var defaultN = map[string]int{}

// benchExtra is printed after "ns/op" when a workload sets it.
var benchExtra string

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go-bench NAME [N] | go-bench list")
	os.Exit(exitUsage)
}

// parseN accepts "1000000" and e-notation such as "1e6".
func parseN(s string) (int, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && v > 0 {
		return int(v), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 || f > 9e18 || f != float64(int64(f)) {
		return 0, false
	}
	return int(f), true
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	if os.Args[1] == "list" {
		names := make([]string, 0, len(workloads))
		for name := range workloads {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Println(name)
		}
		return
	}
	if len(os.Args) > 3 {
		usage()
	}
	name := os.Args[1]
	fn, ok := workloads[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "go-bench: unknown workload %s (try: go-bench list)\n", name)
		os.Exit(exitUsage)
	}
	n, ok := defaultN[name]
	if !ok {
		n = fallbackN
	}
	if len(os.Args) == 3 {
		if n, ok = parseN(os.Args[2]); !ok {
			fmt.Fprintf(os.Stderr, "go-bench: N must be a positive integer, got %s\n", os.Args[2])
			os.Exit(exitUsage)
		}
	}
	nsPerOp := fn(n)
	line := fmt.Sprintf("%s %.2f ns/op", name, nsPerOp)
	if benchExtra != "" {
		line += " " + benchExtra
	}
	fmt.Println(line)
}
