package testimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

// netexecCommand is agnhost's netexec: an HTTP server of test endpoints on --http-port and a UDP
// server of hostname/echo/clientip on --udp-port. SCTP is not served (--sctp-port is accepted).
func (p *Proc) netexecCommand(ctx context.Context) *cobra.Command {
	var o netexecOptions
	cmd := &cobra.Command{
		Use:   "netexec",
		Short: "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints",
		Long: `Starts an HTTP(S) server on --http-port with the endpoints /, /clientip, /header, /dial,
/echo, /exit, /healthz, /readyz, /hostname, /hostName, /redirect, /shell, /shutdown and /upload,
and a UDP server on --udp-port (disabled by -1) answering "hostname", "echo <msg>" and "clientip".`,
		Args: cobra.MaximumNArgs(0),
		RunE: func(*cobra.Command, []string) error { return p.netexec(ctx, o) },
	}
	f := cmd.Flags()
	f.IntVar(&o.httpPort, "http-port", 8080, "HTTP Listen Port")
	f.StringVar(&o.certFile, "tls-cert-file", "", "File containing an x509 certificate for HTTPS. (CA cert, if any, concatenated after server cert)")
	f.StringVar(&o.keyFile, "tls-private-key-file", "", "File containing an x509 private key matching --tls-cert-file")
	f.IntVar(&o.udpPort, "udp-port", 8081, "UDP Listen Port")
	f.IntVar(&o.sctpPort, "sctp-port", -1, "SCTP Listen Port (not served by this stand-in)")
	f.StringVar(&o.httpOverride, "http-override", "", "Override the HTTP handler to always respond as if it were a GET with this path & params")
	f.StringVar(&o.udpListenAddresses, "udp-listen-addresses", "", "A comma separated list of ip addresses the udp servers listen from")
	f.IntVar(&o.delayShutdown, "delay-shutdown", 0, "Number of seconds to delay shutdown when receiving SIGTERM.")
	return cmd
}

type netexecOptions struct {
	httpPort, udpPort, sctpPort int
	certFile, keyFile           string
	httpOverride                string
	udpListenAddresses          string
	delayShutdown               int
}

// netexecServer holds what netexec's endpoints share.
type netexecServer struct {
	p     *Proc
	log   *log.Logger
	ready atomic.Bool // the UDP server is serving: /healthz and /readyz answer 200
	// terminating is closed on SIGTERM: /readyz answers 503 from then on.
	terminating <-chan struct{}
	exits       chan exitRequest // /exit asking for a graceful shutdown
	uploadDir   string
}

type exitRequest struct {
	code    int
	timeout time.Duration
}

func newNetexecServer(p *Proc, terminating <-chan struct{}) *netexecServer {
	return &netexecServer{p: p, log: p.logger(), terminating: terminating, exits: make(chan exitRequest, 1), uploadDir: "uploads"}
}

func (p *Proc) netexec(ctx context.Context, o netexecOptions) error {
	n := newNetexecServer(p, p.terminated())
	go func() {
		<-n.terminating
		if o.delayShutdown > 0 {
			n.log.Printf("Sleeping %d seconds before terminating...", o.delayShutdown)
			time.Sleep(time.Duration(o.delayShutdown) * time.Second)
		}
		p.Exit(0)
	}()
	if o.udpPort != -1 {
		addrs := []string{p.Getenv("POD_IP")}
		if o.udpListenAddresses != "" {
			addrs = nil
			for _, a := range strings.Split(o.udpListenAddresses, ",") {
				if net.ParseIP(a) == nil {
					return fmt.Errorf("parseAddress: invalid address %s", a)
				}
				addrs = append(addrs, a)
			}
		}
		for _, a := range addrs {
			conn, err := net.ListenPacket("udp", net.JoinHostPort(a, strconv.Itoa(o.udpPort)))
			if err != nil {
				p.fatalf("Error occurred: failed to create listener for UDP address %s:%v", a, err)
				return nil
			}
			n.log.Printf("Started UDP server on port %s %d", a, o.udpPort)
			n.ready.Store(true)
			go n.serveUDP(conn)
		}
	}
	if o.sctpPort != -1 {
		n.log.Printf("SCTP port %d: SCTP is not served by skiff's agnhost stand-in", o.sctpPort)
	}
	srv := &http.Server{Handler: n.handler(o.httpOverride), ReadHeaderTimeout: 30 * time.Second}
	ln, err := p.listen(o.httpPort)
	if err != nil {
		p.fatalf("%v", err)
		return nil
	}
	n.log.Printf("Started HTTP server on port %d", o.httpPort)
	go func() {
		req := <-n.exits
		sctx, cancel := context.WithTimeout(ctx, req.timeout)
		defer cancel()
		n.log.Printf("Graceful shutdown completed with: %v", srv.Shutdown(sctx))
		p.Exit(req.code)
	}()
	if o.certFile != "" {
		err = srv.ServeTLS(ln, o.certFile, o.keyFile)
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		select {} // the shutdown goroutine exits the process
	}
	p.fatalf("%v", err)
	return nil
}

// handler serves netexec's endpoints; with override every request is served as a GET of it.
func (n *netexecServer) handler(override string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n.log.Printf("GET /")
		fmt.Fprintf(w, "NOW: %v", time.Now())
	})
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) {
		n.log.Printf("GET /clientip")
		io.WriteString(w, r.RemoteAddr)
	})
	mux.HandleFunc("/header", n.header)
	mux.HandleFunc("/dial", n.dial)
	mux.HandleFunc("/echo", n.echo)
	mux.HandleFunc("/exit", n.exit)
	mux.HandleFunc("/healthz", n.healthz)
	mux.HandleFunc("/readyz", n.readyz)
	hostname := func(w http.ResponseWriter, r *http.Request) {
		n.log.Printf("GET %s", r.URL.Path)
		io.WriteString(w, n.p.hostname())
	}
	mux.HandleFunc("/hostname", hostname)
	mux.HandleFunc("/hostName", hostname)
	mux.HandleFunc("/redirect", n.redirect)
	mux.HandleFunc("/shell", n.shell)
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, r *http.Request) {
		n.log.Printf("GET /shutdown")
		n.p.Exit(0)
	})
	mux.HandleFunc("/upload", n.upload)
	if override == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, override, nil)
		if err != nil {
			http.Error(w, fmt.Sprintf("override request failed: %v", err), http.StatusInternalServerError)
			return
		}
		req.RemoteAddr, req.Header = r.RemoteAddr, r.Header
		mux.ServeHTTP(w, req)
	})
}

func (n *netexecServer) header(w http.ResponseWriter, r *http.Request) {
	if key := r.FormValue("key"); key != "" {
		n.log.Printf("GET /header?key=%s", key)
		io.WriteString(w, r.Header.Get(key))
		return
	}
	n.log.Printf("GET /header")
	data, _ := json.Marshal(r.Header)
	w.Write(data)
}

func (n *netexecServer) echo(w http.ResponseWriter, r *http.Request) {
	msg, code := r.FormValue("msg"), r.FormValue("code")
	n.log.Printf("GET /echo?msg=%s&code=%s", msg, code)
	if code != "" {
		c, err := strconv.Atoi(code)
		if err != nil {
			fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", code)
			return
		}
		w.WriteHeader(c)
	}
	io.WriteString(w, msg)
}

// exit ends the process with code: at once without a timeout, else after a graceful shutdown
// of at most timeout; wait delays either.
func (n *netexecServer) exit(w http.ResponseWriter, r *http.Request) {
	waitS, timeoutS, codeS := r.FormValue("wait"), r.FormValue("timeout"), r.FormValue("code")
	n.log.Printf("GET /exit?code=%s&timeout=%s&wait=%s", codeS, timeoutS, waitS)
	timeout, err := time.ParseDuration(timeoutS)
	if err != nil && timeoutS != "" {
		fmt.Fprintf(w, "argument 'timeout' must be a valid golang duration or empty, got %q\n", timeoutS)
		return
	}
	wait, err := time.ParseDuration(waitS)
	if err != nil && waitS != "" {
		fmt.Fprintf(w, "argument 'wait' must be a valid golang duration or empty, got %q\n", waitS)
		return
	}
	code, err := strconv.Atoi(codeS)
	if err != nil && codeS != "" {
		fmt.Fprintf(w, "argument 'code' must be an integer [0-127] or empty, got %q\n", codeS)
		return
	}
	n.log.Printf("Will begin shutdown in %s, allowing %s for connections to close, then will exit with %d", wait, timeout, code)
	time.Sleep(wait)
	if timeout == 0 {
		n.p.Exit(code)
		return
	}
	n.exits <- exitRequest{code: code, timeout: timeout}
}

func (n *netexecServer) healthz(w http.ResponseWriter, r *http.Request) {
	n.log.Printf("GET /healthz")
	if !n.ready.Load() {
		w.WriteHeader(http.StatusPreconditionFailed)
	}
}

func (n *netexecServer) readyz(w http.ResponseWriter, r *http.Request) {
	n.log.Printf("GET /readyz")
	select {
	case <-n.terminating:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "shutting down")
		return
	default:
	}
	if !n.ready.Load() {
		w.WriteHeader(http.StatusPreconditionFailed)
		return
	}
	io.WriteString(w, "ok")
}

func (n *netexecServer) redirect(w http.ResponseWriter, r *http.Request) {
	location, codeS := r.FormValue("location"), r.FormValue("code")
	n.log.Printf("%s /redirect?msg=%s&code=%s", r.Method, location, codeS)
	code := http.StatusFound
	if codeS != "" {
		c, err := strconv.Atoi(codeS)
		if err != nil {
			fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeS)
			return
		}
		code = c
	}
	http.Redirect(w, r, location, code)
}

// shell runs shellCommand (or cmd) with /bin/sh -c and answers {"output": ..., "error": ...}.
func (n *netexecServer) shell(w http.ResponseWriter, r *http.Request) {
	cmd := r.FormValue("shellCommand")
	if cmd == "" {
		cmd = r.FormValue("cmd")
	}
	n.log.Printf("GET /shell?cmd=%s", cmd)
	out, err := exec.CommandContext(r.Context(), "/bin/sh", "-c", cmd).CombinedOutput()
	res := map[string]string{}
	if len(out) > 0 {
		res["output"] = string(out)
	}
	if err != nil {
		res["error"] = err.Error()
	}
	n.log.Printf("Output: %s", res)
	writeJSON(w, res)
}

// upload stores the form's file under uploads/ in the working directory (the image's /uploads).
func (n *netexecServer) upload(w http.ResponseWriter, r *http.Request) {
	n.log.Printf("GET /upload")
	fail := func(msg string, err error) {
		n.log.Printf("%s: %v", msg, err)
		writeJSON(w, map[string]string{"error": msg})
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		fail("Unable to upload file.", err)
		return
	}
	defer file.Close()
	if err := os.MkdirAll(n.uploadDir, 0o755); err != nil {
		fail("Unable to open file for write", err)
		return
	}
	f, err := os.CreateTemp(n.uploadDir, "upload")
	if err != nil {
		fail("Unable to open file for write", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, file); err != nil {
		fail("Unable to write file.", err)
		return
	}
	if err := os.Chmod(f.Name(), 0o700); err != nil {
		fail("Unable to chmod file.", err)
		return
	}
	name, _ := filepath.Abs(f.Name())
	n.log.Printf("Wrote upload to %s", name)
	w.WriteHeader(http.StatusCreated)
	writeJSON(w, map[string]string{"output": name})
}

// dial makes tries requests of request to host:port over protocol (http or udp) and answers
// {"responses": [...], "errors": [...]}.
func (n *netexecServer) dial(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host, port, request, protocol, triesS := q.Get("host"), q.Get("port"), q.Get("request"), q.Get("protocol"), q.Get("tries")
	n.log.Printf("GET /dial?host=%s&protocol=%s&port=%s&request=%s&tries=%s", host, protocol, port, request, triesS)
	tries := 1
	if triesS != "" {
		var err error
		if tries, err = strconv.Atoi(triesS); err != nil {
			http.Error(w, fmt.Sprintf("tries parameter is invalid. %v", err), http.StatusBadRequest)
			return
		}
	}
	if request == "" {
		http.Error(w, "request parameter not specified. <nil>", http.StatusBadRequest)
		return
	}
	hostPort := net.JoinHostPort(host, port)
	var dial func(ctx context.Context, request, addr string) (string, error)
	var err error
	switch strings.ToLower(protocol) {
	case "", "http":
		dial = dialHTTP
		_, err = net.ResolveTCPAddr("tcp", hostPort)
	case "udp":
		dial = dialUDP
		_, err = net.ResolveUDPAddr("udp", hostPort)
	default:
		http.Error(w, fmt.Sprintf("unsupported protocol. %s", protocol), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("host and/or port param are invalid. %v", err), http.StatusBadRequest)
		return
	}
	var responses, errs []string
	var last string
	for range tries {
		resp, err := dial(r.Context(), request, hostPort)
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			responses = append(responses, resp)
		}
		last = resp
	}
	out := map[string][]string{}
	if last != "" { // as upstream: responses only when the last try answered
		out["responses"] = responses
	}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	writeJSON(w, out)
}

func dialHTTP(ctx context.Context, request, addr string) (string, error) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/%s", addr, request), nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return string(body), nil
}

func dialUDP(_ context.Context, request, addr string) (string, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return "", fmt.Errorf("udp dial failed. err:%v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("udp connection write failed. err:%v", err)
	}
	buf := make([]byte, 2048)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || n == 0 {
		return "", fmt.Errorf("reading from udp connection failed. err:'%v'", err)
	}
	return string(buf[:n]), nil
}

// serveUDP answers "hostname", "echo <msg>" and "clientip" datagrams until conn fails; the
// server is then no longer ready.
func (n *netexecServer) serveUDP(conn net.PacketConn) {
	defer func() {
		n.log.Printf("UDP server exited")
		n.ready.Store(false)
		conn.Close()
	}()
	buf := make([]byte, 2048)
	for {
		k, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		text := strings.ToLower(strings.TrimSpace(string(buf[:k])))
		var reply string
		switch {
		case text == "hostname":
			reply = n.p.hostname()
		case strings.HasPrefix(text, "echo "):
			reply = strings.SplitN(text, " ", 2)[1]
		case text == "clientip":
			reply = from.String()
		default:
			if text != "" {
				n.log.Printf("Unknown UDP command received from %s: %v", from, text)
			}
			continue
		}
		conn.WriteTo([]byte(reply), from)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("response could not be serialized. %v", err), http.StatusExpectationFailed)
		return
	}
	w.Write(data)
}
