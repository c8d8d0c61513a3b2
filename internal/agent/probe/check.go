package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Result is the outcome of one probe.
type Result int

const (
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Execer runs a command in a container (for exec probes): output and exit code, or an error
// when it could not run or ctx ended first.
type Execer func(ctx context.Context, argv []string) ([]byte, int, error)

// Target is what a probe checks: the pod's IP, the container's ports for named ports, and how to
// exec in it.
type Target struct {
	PodIP     string
	Container *corev1.Container
	Exec      Execer
	UserAgent string // default "kube-probe/1.37"
}

// maxBody is how much of an HTTP probe's response is read.
const maxBody = 10 * 1024

// noRedirectsOffHost follows redirects only to the same host, as kubelets do.
func noRedirectsOffHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	return nil
}

var probeTransport = &http.Transport{DisableKeepAlives: true, Proxy: nil}

// Run runs p once against t and returns the result and a message for failures (the text after
// "Readiness probe failed: " in the Unhealthy event).
func Run(ctx context.Context, p *corev1.Probe, t Target) (Result, string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return runHTTP(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		return runTCP(ctx, p.TCPSocket, t)
	case p.Exec != nil:
		return runExec(ctx, p.Exec, t, timeout)
	case p.GRPC != nil:
		return Failure, "gRPC probes are not supported by skiff"
	}
	return Unknown, "missing probe handler"
}

// ResolvePort turns a port number or a container port name into a number.
func ResolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		if port.IntVal <= 0 || port.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", port.IntVal)
		}
		return int(port.IntVal), nil
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	if c != nil {
		for _, p := range c.Ports {
			if p.Name == port.StrVal {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", port.StrVal, containerName(c))
}

func containerName(c *corev1.Container) string {
	if c == nil {
		return ""
	}
	return c.Name
}

// HTTPURL builds the URL an httpGet handler requests.
func HTTPURL(h *corev1.HTTPGetAction, podIP string, c *corev1.Container) (*url.URL, error) {
	port, err := ResolvePort(h.Port, c)
	if err != nil {
		return nil, err
	}
	host := h.Host
	if host == "" {
		host = podIP
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u, err := url.Parse(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return nil, err
	}
	return u, nil
}

func runHTTP(ctx context.Context, h *corev1.HTTPGetAction, t Target, timeout time.Duration) (Result, string) {
	u, err := HTTPURL(h, t.PodIP, t.Container)
	if err != nil {
		return Failure, err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Failure, err.Error()
	}
	ua := t.UserAgent
	if ua == "" {
		ua = "kube-probe/1.37"
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "*/*")
	for _, hd := range h.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	client := &http.Client{Transport: probeTransport, Timeout: timeout, CheckRedirect: noRedirectsOffHost}
	resp, err := client.Do(req)
	if err != nil {
		return Failure, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return Success, string(body)
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

func runTCP(ctx context.Context, s *corev1.TCPSocketAction, t Target) (Result, string) {
	port, err := ResolvePort(s.Port, t.Container)
	if err != nil {
		return Failure, err.Error()
	}
	host := s.Host
	if host == "" {
		host = t.PodIP
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return Failure, err.Error()
	}
	conn.Close()
	return Success, ""
}

func runExec(ctx context.Context, e *corev1.ExecAction, t Target, timeout time.Duration) (Result, string) {
	if t.Exec == nil {
		return Failure, "exec probes are not available for this container"
	}
	out, code, err := t.Exec(ctx, e.Command)
	if err != nil {
		if ctx.Err() != nil {
			return Failure, fmt.Sprintf("command %q timed out", strings.Join(e.Command, " "))
		}
		return Failure, err.Error()
	}
	if code != 0 {
		if len(out) == 0 {
			return Failure, fmt.Sprintf("command %q exited with %d", strings.Join(e.Command, " "), code)
		}
		return Failure, string(out)
	}
	return Success, string(out)
}
