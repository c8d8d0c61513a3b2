package testimages

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// serveHostnameCommand is agnhost's serve-hostname: it answers the pod's host name over HTTP
// (the default), or raw over TCP and/or UDP, on --port. On SIGTERM it waits 60 s before
// exiting, as upstream does, so it stays until the pod is gone.
func (p *Proc) serveHostnameCommand(ctx context.Context) *cobra.Command {
	var tcp, udp, doHTTP, closeConn bool
	port := 9376
	cmd := &cobra.Command{
		Use:   "serve-hostname",
		Short: "Serves the hostname",
		Long:  "Serves the hostname through HTTP / TCP / UDP on the given port.",
		Args:  cobra.MaximumNArgs(0),
		Run: func(*cobra.Command, []string) {
			p.serveHostname(ctx, tcp, udp, doHTTP, closeConn, port)
		},
	}
	cmd.Flags().BoolVar(&tcp, "tcp", false, "Serve raw over TCP.")
	cmd.Flags().BoolVar(&udp, "udp", false, "Serve raw over UDP.")
	cmd.Flags().BoolVar(&doHTTP, "http", true, "Serve HTTP.")
	cmd.Flags().BoolVar(&closeConn, "close", false, "Close connection per each HTTP request.")
	cmd.Flags().IntVar(&port, "port", port, "Port number.")
	return cmd
}

func (p *Proc) serveHostname(ctx context.Context, tcp, udp, doHTTP, closeConn bool, port int) {
	log := p.logger()
	if doHTTP && (tcp || udp) {
		p.fatalf("Can't server TCP/UDP mode and HTTP mode at the same time")
		return
	}
	terminated := p.terminated()
	hostname := p.hostname()
	if tcp {
		ln, err := p.listen(port)
		if err != nil {
			p.fatalf("Error from net.Listen(): %s", err)
			return
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					p.fatalf("Error from Accept(): %s", err)
					return
				}
				log.Printf("TCP request from %s", conn.RemoteAddr())
				io.WriteString(conn, hostname)
				conn.Close()
			}
		}()
	}
	if udp {
		conn, err := net.ListenPacket("udp", p.listenAddr(port))
		if err != nil {
			p.fatalf("Error from ListenUDP(): %s", err)
			return
		}
		go func() {
			buf := make([]byte, 16)
			for {
				_, from, err := conn.ReadFrom(buf)
				if err != nil {
					p.fatalf("Error from ReadFrom(): %s", err)
					return
				}
				log.Printf("UDP request from %s", from)
				conn.WriteTo([]byte(hostname), from)
			}
		}()
	}
	if doHTTP {
		ln, err := p.listen(port)
		if err != nil {
			p.fatalf("%v", err)
			return
		}
		srv := &http.Server{Handler: hostnameHandler(log.Printf, hostname, closeConn), ReadHeaderTimeout: 30 * time.Second}
		go func() { p.fatalf("%v", srv.Serve(ln)) }()
	}
	log.Printf("Serving on port %d.\n", port)
	<-terminated
	log.Printf("Shutting down after receiving signal: %s.\n", "terminated")
	log.Printf("Awaiting pod deletion.\n")
	select {
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
}

// hostnameHandler answers every request with hostname; with closeConn it closes each
// connection after its answer.
func hostnameHandler(logf func(string, ...any), hostname string, closeConn bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logf("HTTP request from %s", r.RemoteAddr)
		if closeConn {
			w.Header().Add("Connection", "close")
		}
		io.WriteString(w, hostname)
	})
}
