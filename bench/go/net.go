// net.go — Go twins of the network workloads in bench/net.c: echo and accept over loopback
// TCP. Each does exactly what its C counterpart does (see the comment at the top of
// bench/net.c); the numbers that size them are the same constants.
package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	echoN         = 200000
	echoClients   = 100
	echoMsg       = 64
	acceptN       = 20000
	acceptClients = 4
)

func init() {
	workloads["echo"] = benchEcho
	workloads["accept"] = benchAccept
	defaultN["echo"] = echoN
	defaultN["accept"] = acceptN
}

func listenLocal() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return l
}

// acceptLoop hands each accepted connection to handle until the listener fails.
func acceptLoop(l net.Listener, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		handle(c)
	}
}

func echoHandler(c net.Conn) {
	buf := make([]byte, echoMsg*4)
	for {
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		if _, err := c.Write(buf[:n]); err != nil {
			break
		}
	}
	c.Close()
}

func benchEcho(n int) float64 {
	l := listenLocal()
	go acceptLoop(l, func(c net.Conn) { go echoHandler(c) })
	addr := l.Addr().String()
	var ready, start, done sync.WaitGroup
	var failed int32
	per := n / echoClients
	ready.Add(echoClients)
	start.Add(1)
	done.Add(echoClients)
	for i := 0; i < echoClients; i++ {
		rounds := per
		if i < n%echoClients {
			rounds++
		}
		go func(rounds int) {
			defer done.Done()
			c, err := net.Dial("tcp", addr)
			ready.Done()
			start.Wait()
			if err != nil {
				atomic.StoreInt32(&failed, 1)
				return
			}
			msg := make([]byte, echoMsg)
			in := make([]byte, echoMsg)
			for i := 0; i < rounds; i++ {
				msg[0] = byte(i)
				if _, err := c.Write(msg); err != nil {
					atomic.StoreInt32(&failed, 1)
					return
				}
				if _, err := io.ReadFull(c, in); err != nil {
					atomic.StoreInt32(&failed, 1)
					return
				}
			}
			c.Close()
		}(rounds)
	}
	ready.Wait()
	t0 := time.Now()
	start.Done()
	done.Wait()
	if atomic.LoadInt32(&failed) != 0 {
		panic("echo failed")
	}
	return perOp(t0, n)
}

func benchAccept(n int) float64 {
	l := listenLocal()
	go acceptLoop(l, func(c net.Conn) { c.Close() })
	addr := l.Addr().String()
	var done sync.WaitGroup
	var failed int32
	done.Add(acceptClients)
	t0 := time.Now()
	for i := 0; i < acceptClients; i++ {
		conns := n / acceptClients
		if i < n%acceptClients {
			conns++
		}
		go func(conns int) {
			defer done.Done()
			b := make([]byte, 1)
			for i := 0; i < conns; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					atomic.StoreInt32(&failed, 1)
					return
				}
				_, err = c.Read(b)
				c.Close()
				if err != io.EOF {
					atomic.StoreInt32(&failed, 1)
					return
				}
			}
		}(conns)
	}
	done.Wait()
	if atomic.LoadInt32(&failed) != 0 {
		panic("accept failed")
	}
	return perOp(t0, n)
}
