// A coder/websocket (nhooyr.io/websocket) echo server for wsinspect's tests.
// Prints the port it listens on, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"

	"nhooyr.io/websocket"
)

func main() {
	origins := flag.String("origins", "", "comma-separated AcceptOptions.OriginPatterns")
	subprotocols := flag.String("subprotocols", "", "comma-separated AcceptOptions.Subprotocols")
	flag.Parse()

	options := &websocket.AcceptOptions{}
	if *origins != "" {
		options.OriginPatterns = strings.Split(*origins, ",")
	}
	if *subprotocols != "" {
		options.Subprotocols = strings.Split(*subprotocols, ",")
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	panic(http.Serve(listener, echo))
}
