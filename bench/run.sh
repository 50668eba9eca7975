#!/usr/bin/env bash
# run.sh BUILD_DIR — `make bench`: every workload in goc and in its Go twin, side by side.
#
# Builds the Go twin (bench/go) once into BUILD_DIR/bench/go-bench (installing golang-go
# with apt-get when `go` is missing; offline: GOPROXY=off, GOTOOLCHAIN=local), then for
# each workload that both goc-bench and go-bench list, at P = 1 and 2 (GOC_MAXPROCS and
# GOMAXPROCS), runs goc and Go alternately ROUNDS times and prints the medians:
#
#   name P goc_ns go_ns ratio goc_rss go_rss      (ratio = goc/Go; rss = KiB per goroutine)
#
# A workload that also reports a second timing ("<what>_ns_per_<unit> V", e.g. ctxtree's
# cancel phase) gets a second row for it (ctxtree.cancel).
#
# Both binaries get the same N: BENCH_N if set, else goc-bench's default for the workload
# (`goc-bench list -n`). A run that fails, times out or prints no number counts as missing;
# a workload with no successful run shows FAIL in its column and the table goes on.
# Alternating the two and taking medians keeps a noisy, shared machine from favouring one.
#
# Environment: BENCH_ROUNDS (default 5), BENCH_FILTER (extended regex on names),
# BENCH_N (N for every workload), BENCH_PROCS (default "1 2"), BENCH_TIMEOUT (seconds per
# run, default 300), BENCH_VERBOSE=1 (print every run's line to stderr).
set -u

BUILD=${1:-build}
ROUNDS=${BENCH_ROUNDS:-5}
FILTER=${BENCH_FILTER:-.}
PROCS=${BENCH_PROCS:-"1 2"}
RUN_TIMEOUT=${BENCH_TIMEOUT:-300}
HERE=$(cd "$(dirname "$0")" && pwd)
GOC=$BUILD/bench/goc-bench
GOB=$BUILD/bench/go-bench

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$GOC" ] || die "$GOC not found: build first (make bench builds it)"
BUILD_ABS=$(cd "$BUILD" && pwd)

# ---- the Go twin ----
if ! command -v go >/dev/null 2>&1; then
    echo "bench: go not found, installing golang-go with apt-get" >&2
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq golang-go; } >&2 ||
        echo "bench: could not install golang-go; Go columns will read FAIL" >&2
fi
go_ok=0
if command -v go >/dev/null 2>&1; then
    export GOCACHE=${GOCACHE:-$BUILD_ABS/go-cache}
    if (cd "$HERE/go" && GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off \
            go build -o "$BUILD_ABS/bench/go-bench" .); then
        go_ok=1
    else
        echo "bench: building bench/go failed; Go columns will read FAIL" >&2
    fi
fi

# ---- which workloads ----
declare -A default_n go_has
while read -r name n; do
    [ -n "$name" ] && default_n[$name]=$n
done < <("$GOC" list -n)
if [ $go_ok = 1 ]; then
    while read -r name; do
        [ -n "$name" ] && go_has[$name]=1
    done < <("$GOB" list)
fi
names=()
for name in $(printf '%s\n' "${!default_n[@]}" | sort); do
    printf '%s\n' "$name" | grep -Eq -- "$FILTER" || continue
    if [ $go_ok = 1 ] && [ -z "${go_has[$name]:-}" ]; then
        echo "bench: $name has no Go twin, skipped" >&2
        continue
    fi
    names+=("$name")
done
[ ${#names[@]} -gt 0 ] || die "no workload matches BENCH_FILTER=$FILTER"

# ---- running ----
# run_one BIN VAR P NAME N: prints "ns rss sub" (rss "-" if none; sub: a second timing the
# workload reports as "<what>_ns_per_<unit> V", e.g. ctxtree's cancel phase, "-" if none),
# or nothing on failure.
run_one() {
    local bin=$1 var=$2 p=$3 name=$4 n=$5 out
    out=$(env "$var=$p" timeout "$RUN_TIMEOUT" "$bin" "$name" "$n" 2>/dev/null) || return 0
    [ -n "${BENCH_VERBOSE:-}" ] && echo "  $(basename "$bin") P=$p: $out" >&2
    printf '%s\n' "$out" | awk -v name="$name" '
        $1 == name && $3 == "ns/op" && $2 ~ /^[0-9.]+$/ {
            rss = "-"; sub_ns = "-"
            for (i = 4; i < NF; i++) {
                if ($i == "peak_rss_kib_per_g") rss = $(i + 1)
                else if ($i ~ /_ns_per_/ && sub_ns == "-") sub_ns = $(i + 1)
            }
            print $2, rss, sub_ns; exit
        }'
}
# sub_label NAME: the row name for NAME's second timing.
sub_label() { case $1 in ctxtree) echo "ctxtree.cancel" ;; *) echo "$1.sub" ;; esac; }

# median of the numbers on stdin ("-" if none)
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2]
        else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The machine may be shared: say how busy it was, so noisy tables can be recognised.
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
echo "# $(nproc 2>/dev/null || echo '?') CPUs, load average at start: $(loadavg); rounds: $ROUNDS"
fmt='%-15s %2s %14s %14s %7s %8s %8s\n'
printf "$fmt" name P goc_ns go_ns ratio goc_rss go_rss
declare -A result
for name in "${names[@]}"; do
    for p in $PROCS; do
        n=${BENCH_N:-${default_n[$name]}}
        goc_ns=() go_ns=() goc_rss=() go_rss=() goc_sub=() go_sub=()
        for ((r = 0; r < ROUNDS; r++)); do
            read -r ns rss sb < <(run_one "$GOC" GOC_MAXPROCS "$p" "$name" "$n"; echo)
            if [ -n "${ns:-}" ]; then
                goc_ns+=("$ns")
                [ "$rss" != "-" ] && goc_rss+=("$rss")
                [ "$sb" != "-" ] && goc_sub+=("$sb")
            fi
            [ $go_ok = 1 ] || continue
            read -r ns rss sb < <(run_one "$GOB" GOMAXPROCS "$p" "$name" "$n"; echo)
            if [ -n "${ns:-}" ]; then
                go_ns+=("$ns")
                [ "$rss" != "-" ] && go_rss+=("$rss")
                [ "$sb" != "-" ] && go_sub+=("$sb")
            fi
        done
        g=$(printf '%s\n' ${goc_ns[@]+"${goc_ns[@]}"} | grep . | median)
        o=$(printf '%s\n' ${go_ns[@]+"${go_ns[@]}"} | grep . | median)
        gr=$(printf '%s\n' ${goc_rss[@]+"${goc_rss[@]}"} | grep . | median)
        or=$(printf '%s\n' ${go_rss[@]+"${go_rss[@]}"} | grep . | median)
        ratio=-
        if [ "$g" != - ] && [ "$o" != - ]; then
            ratio=$(awk -v a="$g" -v b="$o" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
        fi
        [ "$g" = - ] && g=FAIL
        [ "$o" = - ] && o=FAIL
        printf "$fmt" "$name" "$p" "$g" "$o" "$ratio" "$gr" "$or"
        result[$name,$p,goc]=$g
        result[$name,$p,go]=$o
        # the workload's second timing, if it has one, as a row of its own
        if [ ${#goc_sub[@]} -gt 0 ] || [ ${#go_sub[@]} -gt 0 ]; then
            g=$(printf '%s\n' ${goc_sub[@]+"${goc_sub[@]}"} | grep . | median)
            o=$(printf '%s\n' ${go_sub[@]+"${go_sub[@]}"} | grep . | median)
            ratio=-
            if [ "$g" != - ] && [ "$o" != - ]; then
                ratio=$(awk -v a="$g" -v b="$o" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
            fi
            printf "$fmt" "$(sub_label "$name")" "$p" "$g" "$o" "$ratio" - -
        fi
    done
done

# Speed-up from the first P to each other one, for every workload that names itself a
# scaling test (fanout): time per op at P=first divided by time per op at P=k.
first=${PROCS%% *}
for name in "${names[@]}"; do
    [ "$name" = fanout ] || continue
    for p in $PROCS; do
        [ "$p" = "$first" ] && continue
        line="$name speed-up P=$first -> P=$p:"
        for side in goc go; do
            a=${result[$name,$first,$side]:-FAIL} b=${result[$name,$p,$side]:-FAIL}
            s=$(awk -v a="$a" -v b="$b" 'BEGIN {
                if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')
            line="$line $side $s"
        done
        echo "$line"
    done
done
echo "# load average at end: $(loadavg)"
