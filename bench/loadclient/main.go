// A compiled WebSocket load client and echo server for bench/ceiling.py.
//
// The Python bench client tops out near 20k messages/s, below what mitmproxy's raw relay can
// carry, so a ratio against it measures the client. This one is built from Debian's Go packages
// (GO111MODULE=off, GOPATH=/usr/share/gocode, gorilla/websocket) and keeps the proxy the slowest
// part: gorilla does the opening handshake (through an HTTP proxy with CONNECT, as a browser
// does) and the reading; frames are written in batches straight to the socket, so that 64-byte
// messages do not cost one system call each on our side.
//
//	loadclient serve                                    echo server: prints its port, serves until killed
//	loadclient handshakes -url U [-proxy P] -seconds S [-concurrency C]
//	loadclient echoes     -url U [-proxy P] -seconds S [-window W] [-size N] [-text]
//
// The two measurements print one JSON line: {"count": N, "seconds": S}.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// batch bounds how many frames one write carries.
const batch = 256

func main() {
	if len(os.Args) < 2 {
		fail("usage: loadclient serve | handshakes | echoes [flags]")
	}
	mode, args := os.Args[1], os.Args[2:]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	target := flags.String("url", "", "ws:// URL of the echo server")
	proxy := flags.String("proxy", "", "http://host:port of a proxy to CONNECT through (none: direct)")
	seconds := flags.Float64("seconds", 1, "how long to measure")
	concurrency := flags.Int("concurrency", 1, "handshakes in progress at once")
	window := flags.Int("window", 1000, "echoes in flight on the one connection")
	size := flags.Int("size", 64, "payload bytes per message")
	text := flags.Bool("text", false, "send text messages (ASCII) instead of binary ones")
	_ = flags.Parse(args)
	duration := time.Duration(*seconds * float64(time.Second))

	switch mode {
	case "serve":
		serve()
	case "handshakes":
		dialer := newDialer(*proxy)
		report(handshakes(dialer, *target, duration, *concurrency))
	case "echoes":
		dialer := newDialer(*proxy)
		opcode := byte(websocket.BinaryMessage)
		if *text {
			opcode = websocket.TextMessage
		}
		report(echoes(dialer, *target, duration, *window, *size, opcode))
	default:
		fail("unknown mode " + mode)
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, message)
	os.Exit(2)
}

func report(count int64, elapsed time.Duration) {
	line, _ := json.Marshal(map[string]any{"count": count, "seconds": elapsed.Seconds()})
	fmt.Println(string(line))
}

func newDialer(proxy string) *websocket.Dialer {
	dialer := &websocket.Dialer{
		ReadBufferSize:   64 * 1024,
		WriteBufferSize:  4 * 1024,
		HandshakeTimeout: 10 * time.Second,
	}
	if proxy != "" {
		address, err := url.Parse(proxy)
		if err != nil {
			fail("bad -proxy: " + err.Error())
		}
		dialer.Proxy = http.ProxyURL(address)
	}
	return dialer
}

// handshakes opens and cleanly closes connections, concurrency at a time, until the time is up.
func handshakes(dialer *websocket.Dialer, target string, duration time.Duration, concurrency int) (int64, time.Duration) {
	var done int64
	var workers sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for i := 0; i < concurrency; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for time.Now().Before(deadline) {
				conn, _, err := dialer.Dial(target, nil)
				if err != nil {
					fail("handshake: " + err.Error())
				}
				closing := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
				_ = conn.WriteControl(websocket.CloseMessage, closing, time.Now().Add(5*time.Second))
				for { // until the server's close frame (or the end of the stream)
					if _, _, err := conn.ReadMessage(); err != nil {
						break
					}
				}
				conn.Close()
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	workers.Wait()
	return done, time.Since(start)
}

// echoes keeps window messages in flight on one connection and counts the echoes that come
// back (one per message sent and received) until the time is up.
func echoes(dialer *websocket.Dialer, target string, duration time.Duration, window, size int, opcode byte) (int64, time.Duration) {
	conn, _, err := dialer.Dial(target, nil)
	if err != nil {
		fail("connect: " + err.Error())
	}
	defer conn.Close()
	credits := make(chan struct{}, window)
	for i := 0; i < window; i++ {
		credits <- struct{}{}
	}
	var received int64
	stop := make(chan struct{})
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
			atomic.AddInt64(&received, 1)
			credits <- struct{}{}
		}
	}()
	payload := []byte(strings.Repeat("x", size))
	go writeBatches(conn.UnderlyingConn(), credits, stop, appendFrame(nil, opcode, payload, true))
	start := time.Now()
	time.Sleep(duration)
	count, elapsed := atomic.LoadInt64(&received), time.Since(start)
	close(stop)
	// Let the echoes in flight come back before leaving: a slow proxy would otherwise go on
	// relaying them into the next target's slice.
	for drained := time.Now().Add(30 * time.Second); len(credits) < window && time.Now().Before(drained); {
		time.Sleep(time.Millisecond)
	}
	return count, elapsed
}

// writeBatches sends one binary frame per credit, as many as are available in one write.
func writeBatches(socket net.Conn, credits chan struct{}, stop chan struct{}, frame []byte) {
	buffer := make([]byte, 0, batch*len(frame))
	for {
		select {
		case <-stop:
			return
		case <-credits:
		}
		buffer = append(buffer[:0], frame...)
	more:
		for n := 1; n < batch; n++ {
			select {
			case <-credits:
				buffer = append(buffer, frame...)
			default:
				break more
			}
		}
		if _, err := socket.Write(buffer); err != nil {
			return
		}
	}
}

// appendFrame appends one final frame; a client's is masked (with a zero key: the bytes
// on the wire are the payload, which keeps the frame reusable and costs the proxy nothing extra).
func appendFrame(frame []byte, opcode byte, payload []byte, masked bool) []byte {
	frame = append(frame, 0x80|opcode)
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, maskBit|byte(n))
	case n < 1<<16:
		frame = append(frame, maskBit|126, byte(n>>8), byte(n))
	default:
		fail("payloads over 64 KiB are not needed here")
	}
	if masked {
		frame = append(frame, 0, 0, 0, 0)
	}
	return append(frame, payload...)
}

// serve echoes every message back, batching the echoes that queue up into one write.
func serve() {
	upgrader := websocket.Upgrader{ReadBufferSize: 64 * 1024, WriteBufferSize: 4 * 1024}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		echoConnection(conn)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	fail(http.Serve(listener, echo).Error())
}

type message struct {
	opcode  byte
	payload []byte
}

func echoConnection(conn *websocket.Conn) {
	queue := make(chan message, 4096)
	stop, dead := make(chan struct{}), make(chan struct{})
	defer close(stop)
	go func() {
		defer close(dead)
		socket := conn.UnderlyingConn()
		buffer := make([]byte, 0, 64*1024)
		for {
			var echo message
			select {
			case <-stop:
				return
			case echo = <-queue:
			}
			buffer = appendFrame(buffer[:0], echo.opcode, echo.payload, false)
		more:
			for n := 1; n < batch; n++ {
				select {
				case echo = <-queue:
					buffer = appendFrame(buffer, echo.opcode, echo.payload, false)
				default:
					break more
				}
			}
			if _, err := socket.Write(buffer); err != nil {
				return
			}
		}
	}()
	for {
		// ReadMessage answers a close frame itself (gorilla's default close handler).
		kind, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		select {
		case queue <- message{byte(kind), data}:
		case <-dead: // the client is gone
			return
		}
	}
}
