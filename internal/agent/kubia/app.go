package kubia

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// Variants lists the app variants Handler knows.
var Variants = []string{"v1", "v2", "v3", "v4", "hit", "unhealthy"}

// Handler returns the app for variant, answering as host and logging each request to log as the
// book's app.js does.
func Handler(variant, host string, log io.Writer) (http.Handler, error) {
	known := false
	for _, v := range Variants {
		known = known || v == variant
	}
	if !known {
		return nil, fmt.Errorf("kubia: unknown variant %q", variant)
	}
	return &app{variant: variant, host: host, log: log}, nil
}

type app struct {
	variant string
	host    string

	mu       sync.Mutex // guards log writes and requests
	log      io.Writer
	requests int
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	a.mu.Lock()
	a.requests++
	n := a.requests
	fmt.Fprintf(a.log, "Received request from %s\n", remote)
	a.mu.Unlock()

	switch a.variant {
	case "v3":
		// v3's bug: from the fifth request on, every request fails.
		if n >= 5 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "Some internal error has occurred! This is pod %s\n", a.host)
			return
		}
		fmt.Fprintf(w, "This is v3 running in pod %s\n", a.host)
	case "hit":
		fmt.Fprintf(w, "You've hit %s\n", a.host)
	case "unhealthy":
		// kubia-unhealthy: healthy for five requests, then "not well" forever.
		if n > 5 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "I'm not well. Please restart me!")
			return
		}
		fmt.Fprintf(w, "You've hit %s\n", a.host)
	default:
		fmt.Fprintf(w, "This is %s running in pod %s\n", a.variant, a.host)
	}
}
