// rt.go — Go twins of the runtime-core workloads in bench/rt.c: spawn, yield, park,
// timers, fanout. Each does exactly what its C counterpart does (see the comment at the
// top of bench/rt.c); the numbers that size them are the same constants.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	spawnN      = 200000
	yieldN      = 2000000
	parkN       = 1000000
	timersN     = 1000000
	timerSleep  = 10 * time.Millisecond
	fanoutN     = 1000
	fanoutIters = 100000 // xorshift rounds per goroutine, as FANOUT_ITERS in rt.c
)

func init() {
	workloads["spawn"] = benchSpawn
	workloads["yield"] = benchYield
	workloads["park"] = benchPark
	workloads["timers"] = benchTimers
	workloads["fanout"] = benchFanout
	defaultN["spawn"] = spawnN
	defaultN["yield"] = yieldN
	defaultN["park"] = parkN
	defaultN["timers"] = timersN
	defaultN["fanout"] = fanoutN
}

func perOp(t0 time.Time, n int) float64 {
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

// forkJoin spawns n goroutines running fn(&wg), each ending with wg.Done, waits for all
// and returns ns per goroutine (fork_join in rt.c).
func forkJoin(n int, fn func(wg *sync.WaitGroup)) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go fn(&wg)
	}
	wg.Wait()
	return perOp(t0, n)
}

// spawn: n goroutines that each call wg.Done; wait for all.
func benchSpawn(n int) float64 {
	return forkJoin(n, func(wg *sync.WaitGroup) { wg.Done() })
}

// yield: two goroutines calling runtime.Gosched, n yields in total.
func benchYield(n int) float64 {
	var wg sync.WaitGroup
	yielder := func(rounds int) {
		for i := 0; i < rounds; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	t0 := time.Now()
	wg.Add(2)
	go yielder(n / 2)
	go yielder(n - n/2)
	wg.Wait()
	return perOp(t0, n)
}

func maxRSSKiB() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss // KiB on Linux
}

// park: n goroutines blocked receiving on one channel, released by closing it.
func benchPark(n int) float64 {
	ch := make(chan struct{})
	var started, finished sync.WaitGroup
	rss0 := maxRSSKiB()
	t0 := time.Now()
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			finished.Done()
		}()
	}
	started.Wait()
	close(ch)
	finished.Wait()
	ns := perOp(t0, n)
	rss1 := maxRSSKiB()
	benchExtra = fmt.Sprintf("peak_rss_kib_per_g %.2f", float64(rss1-rss0)/float64(n))
	return ns
}

// timers: n goroutines each sleeping 10 ms.
func benchTimers(n int) float64 {
	return forkJoin(n, func(wg *sync.WaitGroup) {
		time.Sleep(timerSleep)
		wg.Done()
	})
}

var fanoutSink uint64 // keeps the results alive

func xorshiftRounds(x uint64, rounds int) uint64 {
	for i := 0; i < rounds; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// fanout: fork-join of n goroutines each doing fanoutIters xorshift rounds.
func benchFanout(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(seed uint64) {
			atomic.AddUint64(&fanoutSink, xorshiftRounds(seed, fanoutIters))
			wg.Done()
		}(uint64(i) + 1)
	}
	wg.Wait()
	return perOp(t0, n)
}
