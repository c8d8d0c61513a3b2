package agent

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	portforwardserver "k8s.io/cri-streaming/pkg/streaming/portforward"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"

	"github.com/skiff-dev/skiff/internal/agent/process"
)

// How long a stream may stay idle and how long a client has to open its streams after the
// upgrade: the kubelet's defaults.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// streamRuntime is what exec and attach need from the runtime; the process runtime has it.
type streamRuntime interface {
	ExecStream(ctx context.Context, id string, argv []string, s process.Streams) (int, error)
	Attach(ctx context.Context, id string, s process.Streams) error
}

var _ streamRuntime = (*process.Runtime)(nil)

// StreamTarget is what an exec, attach or port-forward request is for.
type StreamTarget struct {
	Kind      string // "exec", "attach" or "portForward"
	Namespace string
	Pod       string
	UID       types.UID // when set, the pod must have it
	Container string    // exec and attach
}

// ServeStream serves an exec, attach or port-forward request as the kubelet does: SPDY
// (remotecommand v1-v4, portforward.k8s.io) and WebSocket (channel.k8s.io v1-v4) through the
// CRI streaming server's handlers; WebSocket v5 (kubectl 1.30+ exec and attach) translated to
// SPDY, and port forwarding tunnelled over WebSocket (SPDY/3.1+portforward.k8s.io), both
// through the agent's inner streaming server. Errors before the upgrade are plain text, as the
// kubelet writes them, and reach kubectl as "unable to upgrade connection: ...".
func (a *Agent) ServeStream(w http.ResponseWriter, r *http.Request, t StreamTarget) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	worker := a.findWorker(t.Namespace, t.Pod, t.UID)
	if worker == nil {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return
	}
	worker.mu.Lock()
	pod := worker.pod
	worker.mu.Unlock()
	inner := &url.URL{Scheme: "http", Host: "agent", RawQuery: r.URL.RawQuery}
	switch t.Kind {
	case "exec", "attach":
		opts, err := remotecommandserver.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, ok := worker.runningContainer(t.Container)
		if !ok {
			http.Error(w, fmt.Sprintf("container not found (%q)", t.Container), http.StatusInternalServerError)
			return
		}
		if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
			inner.Path = "/" + t.Kind + "/" + id
			translator.NewStreamTranslatorHandler(inner, a.innerTransport, 0, translator.Options{
				Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY,
			}).ServeHTTP(w, r)
			return
		}
		a.serveRemoteCommand(w, r, t.Kind, pod.Name, string(pod.UID), id, opts)
	case "portForward":
		if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
			inner.Path = "/portForward/" + string(pod.UID)
			upgrade := proxy.NewUpgradeAwareHandler(inner, a.innerTransport, false, true, textResponder{})
			translator.NewTunnelingHandler(upgrade).ServeHTTP(w, r)
			return
		}
		opts, err := portforwardserver.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		portforwardserver.ServePortForward(w, r, podForwarder{a}, pod.Name, string(pod.UID), opts,
			streamIdleTimeout, streamCreationTimeout, portforwardserver.SupportedProtocols)
	default:
		http.NotFound(w, r)
	}
}

func (a *Agent) serveRemoteCommand(w http.ResponseWriter, r *http.Request, kind, pod, uid, id string, opts *remotecommandserver.Options) {
	rt, ok := a.runtime.(streamRuntime)
	if !ok {
		http.Error(w, "the node's runtime does not support "+kind, http.StatusInternalServerError)
		return
	}
	cs := containerStreams{rt}
	if kind == "exec" {
		remotecommandserver.ServeExec(w, r, cs, pod, uid, id, r.URL.Query()["command"], opts,
			streamIdleTimeout, streamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
		return
	}
	remotecommandserver.ServeAttach(w, r, cs, pod, uid, id, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

// innerStreamHandler is the inner streaming server, the CRI streaming server's part: it serves
// the SPDY requests the translators make, for a container by runtime ID or a pod by UID. It is
// reached only through the agent's pipe listener.
func (a *Agent) innerStreamHandler() http.Handler {
	mux := http.NewServeMux()
	remote := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			opts, err := remotecommandserver.NewOptions(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			a.serveRemoteCommand(w, r, kind, "", "", r.PathValue("id"), opts)
		}
	}
	mux.HandleFunc("/exec/{id}", remote("exec"))
	mux.HandleFunc("/attach/{id}", remote("attach"))
	mux.HandleFunc("/portForward/{uid}", func(w http.ResponseWriter, r *http.Request) {
		portforwardserver.ServePortForward(w, r, podForwarder{a}, "", r.PathValue("uid"), &portforwardserver.V4Options{},
			streamIdleTimeout, streamCreationTimeout, portforwardserver.SupportedProtocols)
	})
	return mux
}

// serveInnerStreams runs the inner streaming server until ctx ends.
func (a *Agent) serveInnerStreams(ctx context.Context) {
	srv := &http.Server{Handler: a.innerStreamHandler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		a.streams.Close()
		srv.Close()
	}()
	_ = srv.Serve(a.streams)
}

// findWorker returns the worker of the pod namespace/name (with that UID when uid is set).
func (a *Agent) findWorker(namespace, name string, uid types.UID) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	if uid != "" {
		w := a.workers[uid]
		if w == nil {
			return nil
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.pod.Namespace != namespace || w.pod.Name != name {
			return nil
		}
		return w
	}
	for _, w := range a.workers {
		w.mu.Lock()
		match := w.pod.Namespace == namespace && w.pod.Name == name && !w.removed
		w.mu.Unlock()
		if match {
			return w
		}
	}
	return nil
}

// runningContainer returns the runtime ID of the container's running instance.
func (w *podWorker) runningContainer(name string) (string, bool) {
	ref, _, ok := w.logRef(name)
	if !ok || ref.id == "" {
		return "", false
	}
	st, ok := w.a.runtime.State(ref.id)
	if !ok || !st.Running {
		return "", false
	}
	return ref.id, true
}

// containerStreams runs exec and attach on the runtime for the CRI streaming handlers.
type containerStreams struct{ rt streamRuntime }

var (
	_ remotecommandserver.Executor = containerStreams{}
	_ remotecommandserver.Attacher = containerStreams{}
)

// ExecInContainer runs cmd in the container whose runtime ID is id. A non-zero exit is an
// ExitError, which the handler sends as the NonZeroExitCode status kubectl exits with; a
// command that cannot be found or run is reported on the client's stderr and ends with 127 or
// 126, as a shell would.
func (cs containerStreams) ExecInContainer(ctx context.Context, _, _, id string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize, _ time.Duration) error {
	s := streamsOf(in, out, errOut, tty, resize)
	code, err := cs.rt.ExecStream(ctx, id, cmd, s)
	switch {
	case errors.Is(err, process.ErrCommandNotFound):
		reportExecError(s, err)
		return utilexec.CodeExitError{Err: err, Code: 127}
	case errors.Is(err, process.ErrCommandNotExecutable):
		reportExecError(s, err)
		return utilexec.CodeExitError{Err: err, Code: 126}
	case err != nil:
		return err
	case code != 0:
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", cmd, code), Code: code}
	}
	return nil
}

// AttachContainer attaches to the container whose runtime ID is id.
func (cs containerStreams) AttachContainer(ctx context.Context, _, _, id string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	return cs.rt.Attach(ctx, id, streamsOf(in, out, errOut, tty, resize))
}

func streamsOf(in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) process.Streams {
	s := process.Streams{Stdin: in, TTY: tty}
	if out != nil {
		s.Stdout = out
	}
	if errOut != nil {
		s.Stderr = errOut
	}
	if resize != nil {
		sizes := make(chan process.TerminalSize)
		go func() {
			defer close(sizes)
			for size := range resize {
				sizes <- process.TerminalSize{Width: size.Width, Height: size.Height}
			}
		}()
		s.Resize = sizes
	}
	return s
}

// reportExecError writes why a command could not run where the client sees it, as the OCI
// runtime does.
func reportExecError(s process.Streams, err error) {
	w := s.Stderr
	if w == nil {
		w = s.Stdout
	}
	if w != nil {
		fmt.Fprintf(w, "%v\r\n", err)
	}
}

// podForwarder connects port-forward streams to the pod's IP.
type podForwarder struct{ a *Agent }

var _ portforwardserver.PortForwarder = podForwarder{}

// PortForward copies between stream and the pod's port until the pod's side closes.
func (f podForwarder) PortForward(ctx context.Context, name, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if f.a.ips == nil {
		return fmt.Errorf("pod %s has no IP", name)
	}
	ip, ok := f.a.ips.Lookup(types.UID(uid))
	if !ok {
		return fmt.Errorf("pod %s has no IP", name)
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return fmt.Errorf("failed to connect to %s inside pod %s: %w", addr, name, err)
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	if _, err := io.Copy(stream, conn); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("copy from %s: %w", addr, err)
	}
	return nil
}

// textResponder writes proxy errors as plain text, as the kubelet's responder does.
type textResponder struct{}

func (textResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// addStreamRoutes adds the kubelet's streaming endpoints to the agent's HTTPS server, for
// callers presenting token (the API server):
// /exec/{namespace}/{pod}/{container}, /attach/{namespace}/{pod}/{container} and
// /portForward/{namespace}/{pod}, each with an optional podUID query parameter.
func (a *Agent) addStreamRoutes(mux *http.ServeMux, token string) {
	route := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !bearerIs(r, token) {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			a.ServeStream(w, r, StreamTarget{Kind: kind, Namespace: r.PathValue("namespace"), Pod: r.PathValue("pod"),
				UID: types.UID(r.URL.Query().Get("podUID")), Container: r.PathValue("container")})
		}
	}
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", route("exec"))
	mux.HandleFunc("/attach/{namespace}/{pod}/{container}", route("attach"))
	mux.HandleFunc("/portForward/{namespace}/{pod}", route("portForward"))
}

// bearerIs reports whether r carries token as its bearer token (never, for an empty token).
func bearerIs(r *http.Request, token string) bool {
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
