// A coder/websocket (nhooyr.io/websocket, Debian's golang-nhooyr-websocket-dev 1.8.7) stack
// server for wsinspect's stack fingerprints (issue 15).
//
//	coder-stack PORT   (0 = any; prints "PORT <n>" first)
//
// /ws: AcceptOptions.OriginPatterns admits only the host allowed.example (patterns are
// host[:port] globs, never URLs); /proto: AcceptOptions.Subprotocols = chat.v2;
// /: a plain net/http page; anything else: net/http's 404.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"nhooyr.io/websocket"
)

func echo(options *websocket.AcceptOptions) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, options)
		if err != nil {
			return
		}
		defer conn.Close(websocket.StatusInternalError, "")
		for {
			kind, data, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			if err := conn.Write(r.Context(), kind, data); err != nil {
				return
			}
		}
	}
}

func main() {
	port := "0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", echo(&websocket.AcceptOptions{OriginPatterns: []string{"allowed.example"}}))
	mux.Handle("/proto", echo(&websocket.AcceptOptions{
		OriginPatterns: []string{"allowed.example"},
		Subprotocols:   []string{"chat.v2"},
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "coder/websocket stack server")
	})
	listener, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	fmt.Printf("PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	panic(http.Serve(listener, mux))
}
