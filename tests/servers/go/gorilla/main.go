// A gorilla/websocket echo server for wsinspect's tests.
// Prints the port it listens on, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

func main() {
	origins := flag.String("origins", "", "comma-separated full origins CheckOrigin admits (default: same host)")
	subprotocols := flag.String("subprotocols", "", "comma-separated Upgrader.Subprotocols")
	flag.Parse()

	upgrader := websocket.Upgrader{}
	if *origins != "" {
		allowed := map[string]bool{}
		for _, origin := range strings.Split(*origins, ",") {
			allowed[origin] = true
		}
		upgrader.CheckOrigin = func(r *http.Request) bool { return allowed[r.Header.Get("Origin")] }
	}
	if *subprotocols != "" {
		upgrader.Subprotocols = strings.Split(*subprotocols, ",")
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	panic(http.Serve(listener, echo))
}
