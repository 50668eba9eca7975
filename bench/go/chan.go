// chan.go — Go twins of the channel, select and sync workloads in bench/chan.c: pingpong,
// buffered, mpmc, select, ring, sieve, mutex. Each does exactly what its C counterpart does
// (see the comment at the top of bench/chan.c); the numbers that size them are the same
// constants.
package main

import (
	"sync"
	"time"
)

const (
	pingpongN   = 1000000
	bufferedN   = 5000000
	bufferedCap = 128
	mpmcN       = 4000000
	mpmcCap     = 1024
	mpmcSides   = 4
	selectN     = 1000000
	selectChans = 4
	ringN       = 2000000
	ringSize    = 1000
	sieveN      = 1000
	mutexN      = 4000000
	mutexG      = 4
)

func init() {
	workloads["pingpong"] = benchPingpong
	workloads["buffered"] = benchBuffered
	workloads["mpmc"] = benchMPMC
	workloads["select"] = benchSelect
	workloads["ring"] = benchRing
	workloads["sieve"] = benchSieve
	workloads["mutex"] = benchMutex
	defaultN["pingpong"] = pingpongN
	defaultN["buffered"] = bufferedN
	defaultN["mpmc"] = mpmcN
	defaultN["select"] = selectN
	defaultN["ring"] = ringN
	defaultN["sieve"] = sieveN
	defaultN["mutex"] = mutexN
}

// share splits n operations among k workers: worker i does this many.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// pingpong: two goroutines bounce an int over two unbuffered channels; per round trip.
func benchPingpong(n int) float64 {
	ping, pong := make(chan int64), make(chan int64)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v
		}
	}()
	for i := 0; i < n; i++ {
		ping <- int64(i)
		<-pong
	}
	return perOp(t0, n)
}

// prodcons: k producers and k consumers move n values through a channel of cap values.
func prodcons(n, k, cap int) float64 {
	c := make(chan int64, cap)
	var prod, cons sync.WaitGroup
	sums := make([]int64, k)
	t0 := time.Now()
	prod.Add(k)
	cons.Add(k)
	for i := 0; i < k; i++ {
		go func(i int) {
			var sum int64
			for v := range c {
				sum += v
			}
			sums[i] = sum
			cons.Done()
		}(i)
		go func(count int) {
			for j := 0; j < count; j++ {
				c <- int64(j)
			}
			prod.Done()
		}(share(n, k, i))
	}
	prod.Wait()
	close(c)
	cons.Wait()
	return perOp(t0, n)
}

// buffered: one producer, one consumer, cap 128; per value.
func benchBuffered(n int) float64 { return prodcons(n, 1, bufferedCap) }

// mpmc: 4 producers, 4 consumers, cap 1024; per value.
func benchMPMC(n int) float64 { return prodcons(n, mpmcSides, mpmcCap) }

// select: one receiver over 4 unbuffered channels, each fed by its own sender; per value.
func benchSelect(n int) float64 {
	var cs [selectChans]chan int64
	for i := range cs {
		cs[i] = make(chan int64)
	}
	t0 := time.Now()
	for i := range cs {
		go func(c chan int64, count int) {
			for j := 0; j < count; j++ {
				c <- int64(j)
			}
		}(cs[i], share(n, selectChans, i))
	}
	for i := 0; i < n; i++ {
		select {
		case <-cs[0]:
		case <-cs[1]:
		case <-cs[2]:
		case <-cs[3]:
		}
	}
	return perOp(t0, n)
}

// ring: 1000 goroutines in a ring of unbuffered channels pass a token; per hop.
func benchRing(n int) float64 {
	ch := make([]chan int64, ringSize)
	for i := range ch {
		ch[i] = make(chan int64)
	}
	t0 := time.Now()
	for i := 1; i < ringSize; i++ {
		go func(in, out chan int64) {
			for {
				v := <-in
				out <- v
				if v < 0 {
					return
				}
			}
		}(ch[i], ch[(i+1)%ringSize])
	}
	hops := 0
	var v int64
	for hops < n {
		ch[1] <- v
		v = <-ch[0]
		hops += ringSize
	}
	ch[1] <- -1
	<-ch[0]
	return float64(time.Since(t0).Nanoseconds()) / float64(hops)
}

// sieve: the concurrent prime sieve, n primes; per prime. Its goroutines stay blocked.
func benchSieve(n int) float64 {
	t0 := time.Now()
	ch := make(chan int64)
	go func(ch chan int64) { // its own copy: ch below moves down the chain
		for i := int64(2); ; i++ {
			ch <- i
		}
	}(ch)
	for i := 0; i < n; i++ {
		prime := <-ch
		out := make(chan int64)
		go func(in, out chan int64, prime int64) {
			for {
				i := <-in
				if i%prime != 0 {
					out <- i
				}
			}
		}(ch, out, prime)
		ch = out
	}
	return perOp(t0, n)
}

// mutex: 4 goroutines contend on one Mutex guarding a counter; per lock/unlock.
func benchMutex(n int) float64 {
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(mutexG)
	for i := 0; i < mutexG; i++ {
		go func(count int) {
			for j := 0; j < count; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}(share(n, mutexG, i))
	}
	wg.Wait()
	ns := perOp(t0, n)
	if counter != int64(n) {
		panic("mutex: lost increments")
	}
	return ns
}
