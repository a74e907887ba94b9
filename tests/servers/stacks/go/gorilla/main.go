// A gorilla/websocket (Debian's golang-github-gorilla-websocket-dev 1.5.0) stack server for
// wsinspect's stack fingerprints (issue 15).
//
//	gorilla-stack PORT   (0 = any; prints "PORT <n>" first)
//
// /ws: Upgrader.CheckOrigin admits only the full origin http://allowed.example;
// /proto: Upgrader.Subprotocols = chat.v2 (same CheckOrigin);
// /: a plain net/http page; anything else: net/http's 404.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/gorilla/websocket"
)

func echo(upgrader websocket.Upgrader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(kind, data); err != nil {
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
	checkOrigin := func(r *http.Request) bool { return r.Header.Get("Origin") == "http://allowed.example" }
	mux := http.NewServeMux()
	mux.Handle("/ws", echo(websocket.Upgrader{CheckOrigin: checkOrigin}))
	mux.Handle("/proto", echo(websocket.Upgrader{CheckOrigin: checkOrigin, Subprotocols: []string{"chat.v2"}}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "gorilla/websocket stack server")
	})
	listener, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	fmt.Printf("PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	panic(http.Serve(listener, mux))
}
