package testimages

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// livenessCommand is agnhost's liveness: an HTTP server on 8080 whose /healthz is healthy for
// its first 10 seconds and fails from then on.
func (p *Proc) livenessCommand(ctx context.Context) *cobra.Command {
	return &cobra.Command{
		Use:   "liveness",
		Short: "Starts a server that is alive for 10 seconds",
		Args:  cobra.MaximumNArgs(0),
		RunE: func(*cobra.Command, []string) error {
			return p.serveHTTP(ctx, 8080, livenessHandler(time.Now(), time.Since))
		},
	}
}

func livenessHandler(started time.Time, since func(time.Time) time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/started", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, since(started).String())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if d := since(started); d.Seconds() > 10 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "error: %v", d.Seconds())
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		loc, err := url.QueryUnescape(r.URL.Query().Get("loc"))
		if err != nil {
			http.Error(w, fmt.Sprintf("invalid redirect: %q", r.URL.Query().Get("loc")), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, loc, http.StatusFound)
	})
	return mux
}
