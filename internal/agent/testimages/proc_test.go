package testimages

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testProc is a Proc for tests: env as given, output kept, Exit recorded (and ending the calling
// goroutine's work only by what the caller does next), signals sent with signal().
type testProc struct {
	*Proc
	mu     sync.Mutex // guards out, codes and sigs
	out    strings.Builder
	codes  chan int
	sigs   []chan os.Signal
	notify chan struct{} // a Notify happened
}

func newTestProc(t *testing.T, env map[string]string) *testProc {
	t.Helper()
	tp := &testProc{codes: make(chan int, 10), notify: make(chan struct{}, 10)}
	w := writerFunc(func(b []byte) (int, error) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return tp.out.Write(b)
	})
	tp.Proc = &Proc{Argv0: "/agnhost", Getenv: func(k string) string { return env[k] }, Stdout: w, Stderr: w,
		Exit: func(code int) { tp.codes <- code },
		Notify: func(...os.Signal) <-chan os.Signal {
			ch := make(chan os.Signal, 1)
			tp.mu.Lock()
			tp.sigs = append(tp.sigs, ch)
			tp.mu.Unlock()
			tp.notify <- struct{}{}
			return ch
		}}
	return tp
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (tp *testProc) output() string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.out.String()
}

// signal delivers sig to every Notify channel.
func (tp *testProc) signal(sig os.Signal) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, ch := range tp.sigs {
		ch <- sig
	}
}

func (tp *testProc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case c := <-tp.codes:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no exit")
		return 0
	}
}

// freePort returns a TCP port of 127.0.0.1 nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get polls url until it answers (the server starting) and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// udpAsk sends msg to addr and returns the answer.
func udpAsk(t *testing.T, addr, msg string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
		conn.Write([]byte(msg))
		buf := make([]byte, 2048)
		n, err := conn.Read(buf)
		conn.Close()
		if err == nil {
			return string(buf[:n])
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP %s %q: %v", addr, msg, err)
		}
	}
}

func TestAgnhostWithoutArgsPrintsHelp(t *testing.T) {
	tp := newTestProc(t, nil)
	if code := tp.Run(t.Context(), "agnhost", nil); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, mode := range []string{"netexec", "serve-hostname", "pause", "logs-generator", "porter", "liveness", "test-webserver", "connect", "entrypoint-tester"} {
		if !strings.Contains(tp.output(), mode) {
			t.Errorf("help does not list %s:\n%s", mode, tp.output())
		}
	}
}

func TestEntrypointTesterPrintsItsArgv(t *testing.T) {
	tp := newTestProc(t, nil)
	tp.Argv0 = "/agnhost-2"
	tp.Run(t.Context(), "agnhost", []string{"entrypoint-tester", "override", "arguments"})
	if got, want := tp.output(), "[/agnhost-2 entrypoint-tester override arguments]\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}

func TestNetexec(t *testing.T) {
	tp := newTestProc(t, map[string]string{"POD_IP": "127.0.0.1", "HOSTNAME": "netexec-pod"})
	httpPort, udpPort := freePort(t), freePort(t)
	go tp.Run(context.Background(), "agnhost", []string{"netexec", fmt.Sprintf("--http-port=%d", httpPort), fmt.Sprintf("--udp-port=%d", udpPort)})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	tests := []struct {
		name, path string
		code       int
		body       string // exact, or a prefix when it ends in "*"
	}{
		{"/ is the time", "/", 200, "NOW: *"},
		{"/hostname is the pod's", "/hostname", 200, "netexec-pod"},
		{"/hostName too", "/hostName", 200, "netexec-pod"},
		{"/echo", "/echo?msg=hello", 200, "hello"},
		{"/echo with a code", "/echo?msg=gone&code=410", 410, "gone"},
		{"/clientip", "/clientip", 200, "127.0.0.1:*"},
		{"/header of a key", "/header?key=X-Test", 200, ""},
		{"/healthz once UDP serves", "/healthz", 200, ""},
		{"/readyz", "/readyz", 200, "ok"},
		{"/shell runs sh", "/shell?cmd=echo%20hi", 200, `{"output":"hi\n"}`},
		{"/shell reports failures", "/shell?cmd=exit%203", 200, `{"error":"exit status 3"}`},
		{"/dial over HTTP", fmt.Sprintf("/dial?request=hostname&protocol=http&host=127.0.0.1&port=%d&tries=2", httpPort), 200, `{"responses":["netexec-pod","netexec-pod"]}`},
		{"/dial over UDP", fmt.Sprintf("/dial?request=hostname&protocol=udp&host=127.0.0.1&port=%d&tries=1", udpPort), 200, `{"responses":["netexec-pod"]}`},
		{"/dial without a request", "/dial?host=127.0.0.1&port=1", 400, "request parameter not specified. <nil>\n"},
		{"/dial of an unknown protocol", "/dial?request=x&protocol=ftp&host=127.0.0.1&port=1", 400, "unsupported protocol. ftp\n"},
		{"/redirect", "/redirect?location=/echo%3Fmsg%3Dthere", 200, "there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, base+tt.path)
			match := body == tt.body
			if p, ok := strings.CutSuffix(tt.body, "*"); ok {
				match = strings.HasPrefix(body, p)
			}
			if code != tt.code || !match {
				t.Errorf("GET %s: %d %q, want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	if got := udpAsk(t, fmt.Sprintf("127.0.0.1:%d", udpPort), "echo Hello"); got != "hello" {
		t.Errorf("UDP echo answered %q, want the lowercased message", got)
	}
	t.Run("/exit exits with the code", func(t *testing.T) {
		http.Get(base + "/exit?code=7")
		if code := tp.exitCode(t); code != 7 {
			t.Errorf("exit %d, want 7", code)
		}
	})
	t.Run("SIGTERM: /readyz answers 503 and the process exits 0", func(t *testing.T) {
		tp.signal(syscall.SIGTERM)
		if code := tp.exitCode(t); code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		if code, body := get(t, base+"/readyz"); code != 503 || body != "shutting down" {
			t.Errorf("/readyz after SIGTERM: %d %q", code, body)
		}
	})
}

func TestNetexecHTTPOverride(t *testing.T) {
	tp := newTestProc(t, map[string]string{"POD_IP": "127.0.0.1", "HOSTNAME": "over"})
	port := freePort(t)
	go tp.Run(context.Background(), "agnhost", []string{"netexec", fmt.Sprintf("--http-port=%d", port), "--udp-port=-1", "--http-override=/hostname"})
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/anything", port)); code != 200 || body != "over" {
		t.Errorf("GET /anything: %d %q, want the /hostname answer", code, body)
	}
	if code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); code != 200 {
		t.Errorf("GET /: %d", code)
	}
}

func TestNetexecHealthzWithoutUDP(t *testing.T) {
	tp := newTestProc(t, map[string]string{"POD_IP": "127.0.0.1"})
	port := freePort(t)
	go tp.Run(context.Background(), "agnhost", []string{"netexec", fmt.Sprintf("--http-port=%d", port), "--udp-port=-1"})
	// As upstream: readiness is the UDP server's, so without one /healthz fails.
	if code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); code != http.StatusPreconditionFailed {
		t.Errorf("/healthz without UDP: %d, want 412", code)
	}
}

func TestServeHostname(t *testing.T) {
	t.Run("HTTP", func(t *testing.T) {
		tp := newTestProc(t, map[string]string{"POD_IP": "127.0.0.1", "HOSTNAME": "sh-1"})
		port := freePort(t)
		go tp.Run(t.Context(), "agnhost", []string{"serve-hostname", fmt.Sprintf("--port=%d", port), "--close"})
		resp := func() *http.Response {
			get(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
			r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/x", port))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}()
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "sh-1" || !resp.Close {
			t.Errorf("answer %q (close %v), want the hostname and a closed connection", body, resp.Close)
		}
	})
	t.Run("TCP and UDP", func(t *testing.T) {
		tp := newTestProc(t, map[string]string{"POD_IP": "127.0.0.1", "HOSTNAME": "sh-2"})
		port := freePort(t)
		go tp.Run(t.Context(), "agnhost", []string{"serve-hostname", fmt.Sprintf("--port=%d", port), "--http=false", "--tcp", "--udp"})
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if got := udpAsk(t, addr, "x"); got != "sh-2" {
			t.Errorf("UDP answered %q", got)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(conn)
		conn.Close()
		if string(got) != "sh-2" {
			t.Errorf("TCP answered %q", got)
		}
	})
	t.Run("HTTP with TCP is refused", func(t *testing.T) {
		tp := newTestProc(t, nil)
		go tp.Run(t.Context(), "agnhost", []string{"serve-hostname", "--tcp"})
		if code := tp.exitCode(t); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
	})
}

func TestPause(t *testing.T) {
	tests := []struct {
		name  string
		image string
		args  []string
		sig   os.Signal
		code  int
	}{
		{"agnhost pause: SIGTERM exits 2", "agnhost", []string{"pause"}, syscall.SIGTERM, 2},
		{"agnhost pause: SIGINT exits 1", "agnhost", []string{"pause"}, syscall.SIGINT, 1},
		{"the pause image exits 0", "pause", nil, syscall.SIGTERM, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestProc(t, nil)
			done := make(chan int, 1)
			go func() { done <- tp.Run(t.Context(), tt.image, tt.args) }()
			<-tp.notify
			tp.signal(tt.sig)
			var code int
			select {
			case code = <-tp.codes:
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("still paused")
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
		})
	}
}

func TestLogsGenerator(t *testing.T) {
	t.Run("flags", func(t *testing.T) {
		tp := newTestProc(t, nil)
		if code := tp.Run(t.Context(), "agnhost", []string{"logs-generator", "--log-lines-total", "5", "--run-duration", "50ms"}); code != 0 {
			t.Fatalf("exit %d", code)
		}
		lines := strings.Split(strings.TrimSpace(tp.output()), "\n")
		if len(lines) != 5 {
			t.Fatalf("%d lines, want 5:\n%s", len(lines), tp.output())
		}
		for i, l := range lines {
			_, msg, ok := strings.Cut(l, "] ")
			if !strings.HasPrefix(l, "I") || !ok || !strings.HasPrefix(msg, fmt.Sprintf("%d ", i)) || !strings.Contains(msg, "/api/v1/namespaces/") {
				t.Errorf("line %d %q is not a klog line numbered %d", i, l, i)
			}
		}
	})
	t.Run("environment", func(t *testing.T) {
		tp := newTestProc(t, map[string]string{"LOGS_GENERATOR_LINES_TOTAL": "3", "LOGS_GENERATOR_DURATION": "30ms"})
		tp.Run(t.Context(), "agnhost", []string{"logs-generator"})
		if n := strings.Count(tp.output(), "\n"); n != 3 {
			t.Errorf("%d lines, want 3", n)
		}
	})
	t.Run("no lines is an error", func(t *testing.T) {
		tp := newTestProc(t, nil)
		tp.Run(t.Context(), "agnhost", []string{"logs-generator", "-d", "1s"})
		if code := tp.exitCode(t); code != 255 || !strings.Contains(tp.output(), "Invalid total number of lines: 0") {
			t.Errorf("exit %d, output %q", code, tp.output())
		}
	})
}

func TestPorter(t *testing.T) {
	tp := newTestProc(t, map[string]string{"POD_IP": "127.0.0.1"})
	port, udp := freePort(t), freePort(t)
	env := []string{fmt.Sprintf("SERVE_PORT_%d=foo", port), fmt.Sprintf("SERVE_UDP_PORT_%d=bar", udp)}
	go tp.porter(t.Context(), env, false)
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/any", port)); code != 200 || body != "foo" {
		t.Errorf("HTTP: %d %q", code, body)
	}
	if got := udpAsk(t, fmt.Sprintf("127.0.0.1:%d", udp), "x"); got != "bar" {
		t.Errorf("UDP: %q", got)
	}
}

func TestLiveness(t *testing.T) {
	elapsed := time.Second
	h := livenessHandler(time.Time{}, func(time.Time) time.Duration { return elapsed })
	srvGet := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := srvGet("/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz at 1s: %d %q", code, body)
	}
	elapsed = 11 * time.Second
	if code, body := srvGet("/healthz"); code != 500 || body != "error: 11" {
		t.Errorf("healthz at 11s: %d %q", code, body)
	}
}

func TestWebServers(t *testing.T) {
	tests := []struct {
		name string
		site site
		want string
	}{
		{"httpd says It works!", httpdSite, "<html><body><h1>It works!</h1></body></html>\n"},
		{"nginx welcomes", nginxSite, "<title>Welcome to nginx!</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var access strings.Builder
			h := tt.site.handler(&access)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "127.0.0.9:4000"
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("GET /: %d %q", rec.Code, rec.Body.String())
			}
			if !strings.HasPrefix(access.String(), `127.0.0.9 - - [`) || !strings.Contains(access.String(), `"GET / HTTP/1.1" 200`) {
				t.Errorf("access log %q", access.String())
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/missing", nil))
			if rec.Code != 404 {
				t.Errorf("GET /missing: %d", rec.Code)
			}
		})
	}
}

func TestConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if msg := connect(ln.Addr().String(), "tcp", "", time.Second); msg != "" {
		t.Errorf("connect to a listener: %q", msg)
	}
	if msg := connect(fmt.Sprintf("127.0.0.1:%d", freePort(t)), "tcp", "", time.Second); msg != "REFUSED" {
		t.Errorf("connect to a closed port: %q, want REFUSED", msg)
	}
	if msg := connect("nocolon", "tcp", "", time.Second); !strings.HasPrefix(msg, "UNKNOWN: ") {
		t.Errorf("connect to a bad address: %q, want UNKNOWN", msg)
	}
}
