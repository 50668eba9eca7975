// context.go — the Go twin of bench/context.c: ctxtree. It does exactly what the C
// workload does (see the comment at the top of bench/context.c): a tree of N contexts made
// with context.WithCancel, fan-out 10, one goroutine per node blocked on <-ctx.Done();
// returns ns per node to build the tree and reports the cancel-to-all-woken time per node
// and peak RSS in benchExtra.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

const (
	ctxtreeN      = 1000000 // nodes (CTXTREE_N in context.c)
	ctxtreeFanout = 10      // children per node
)

func init() {
	workloads["ctxtree"] = benchCtxtree
	defaultN["ctxtree"] = ctxtreeN
}

func benchCtxtree(n int) float64 {
	rss0 := maxRSSKiB()
	ctxs := make([]context.Context, n)
	cancels := make([]context.CancelFunc, n)

	t0 := time.Now()
	ctxs[0], cancels[0] = context.WithCancel(context.Background())
	for i := 1; i < n; i++ {
		ctxs[i], cancels[i] = context.WithCancel(ctxs[(i-1)/ctxtreeFanout])
	}
	build := time.Since(t0)

	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func(c context.Context) {
			done := c.Done()
			started.Done()
			<-done
			finished.Done()
		}(ctxs[i])
	}
	started.Wait()

	t1 := time.Now()
	cancels[0]()
	finished.Wait()
	cancelNs := time.Since(t1)
	rss1 := maxRSSKiB()

	for _, cancel := range cancels {
		cancel()
	}
	benchExtra = fmt.Sprintf("cancel_ns_per_node %.1f peak_rss_kib %d peak_rss_kib_per_g %.2f",
		float64(cancelNs.Nanoseconds())/float64(n), rss1, float64(rss1-rss0)/float64(n))
	return float64(build.Nanoseconds()) / float64(n)
}
