package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// randomLoopback returns an address in 127.100.0.0–127.250.255.255, unlikely to be in use by
// anything else on the machine.
func randomLoopback() netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(150)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
}

// backend is an HTTP server on its own loopback address that answers with its name, like the
// kubia app.
type backend struct {
	name string
	addr netip.AddrPort
	srv  *http.Server
	done chan struct{}
}

func startBackend(t testing.TB, name string) *backend {
	t.Helper()
	var ln net.Listener
	var err error
	for range 10 {
		if ln, err = net.Listen("tcp", netip.AddrPortFrom(randomLoopback(), 8080).String()); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: netip.MustParseAddrPort(ln.Addr().String()), done: make(chan struct{})}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "This is v1 running in pod "+name+"\n")
	})}
	go func() {
		defer close(b.done)
		b.srv.Serve(ln)
	}()
	t.Cleanup(b.stop)
	return b
}

// stop closes the listener and waits for open connections to finish.
func (b *backend) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	b.srv.Shutdown(ctx)
	<-b.done
}

// env is a Proxy over a fake API server, with a random node IP and cluster IP.
type env struct {
	t         testing.TB
	client    *fake.Clientset
	proxy     *Proxy
	nodeIP    netip.Addr
	clusterIP netip.Addr
	cancel    context.CancelFunc
	done      chan struct{}
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := &env{t: t, client: fake.NewSimpleClientset(), nodeIP: randomLoopback(), clusterIP: randomLoopback(), done: make(chan struct{})}
	opts.NodeIP = net.IP(e.nodeIP.AsSlice())
	factory := informers.NewSharedInformerFactory(e.client, 0)
	e.proxy = New(e.client, factory, slog.New(slog.DiscardHandler), opts)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	factory.Start(ctx.Done())
	go func() {
		defer close(e.done)
		if err := e.proxy.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		e.stop()
		factory.Shutdown()
	})
	return e
}

// stop ends Run and waits for it.
func (e *env) stop() {
	e.cancel()
	<-e.done
}

// service returns a NodePort Service kubia on e's cluster IP: port 80 to 8080, nodePort.
func (e *env) service(nodePort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubia", UID: "uid-kubia"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: e.clusterIP.String(), ClusterIPs: []string{e.clusterIP.String()},
			Selector: map[string]string{"app": "kubia"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP, NodePort: nodePort}},
		},
	}
}

func (e *env) createService(svc *corev1.Service) {
	e.t.Helper()
	if _, err := e.client.CoreV1().Services(svc.Namespace).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) updateService(svc *corev1.Service) {
	e.t.Helper()
	if _, err := e.client.CoreV1().Services(svc.Namespace).Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// setEndpoints writes the kubia EndpointSlice for port name "" with the given ready and
// not-ready ("!"-prefixed) endpoints, as "ip:port".
func (e *env) setEndpoints(endpoints ...string) {
	e.t.Helper()
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "kubia-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: "kubia"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	var port int32
	for _, ep := range endpoints {
		ready := !strings.HasPrefix(ep, "!")
		ap := netip.MustParseAddrPort(strings.TrimPrefix(ep, "!"))
		port = int32(ap.Port())
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ap.Addr().String()}, Conditions: discoveryv1.EndpointConditions{Ready: new(ready)}})
	}
	if port == 0 {
		port = 8080
	}
	s.Ports = []discoveryv1.EndpointPort{{Name: new(""), Protocol: new(corev1.ProtocolTCP), Port: new(port)}}
	api := e.client.DiscoveryV1().EndpointSlices("default")
	if _, err := api.Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		if _, err := api.Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// waitFor waits until cond holds, re-checking whenever the proxy changes an endpoint list or a
// listener.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		e.proxy.mu.Lock()
		changed := e.proxy.changed
		e.proxy.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			e.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// serving returns a condition: the proxy listens on addr and sends new connections to exactly
// endpoints.
func (e *env) serving(addr netip.AddrPort, endpoints ...netip.AddrPort) func() bool {
	return func() bool {
		e.proxy.mu.Lock()
		defer e.proxy.mu.Unlock()
		b := e.proxy.listeners[listenKey{proto: corev1.ProtocolTCP, addr: addr}]
		if b == nil {
			return false
		}
		bal := b.l.(*tcpListener).bal.Load()
		got := slices.Clone(bal.endpoints())
		want := slices.Clone(endpoints)
		slices.SortFunc(got, func(a, b netip.AddrPort) int { return strings.Compare(a.String(), b.String()) })
		slices.SortFunc(want, func(a, b netip.AddrPort) int { return strings.Compare(a.String(), b.String()) })
		return slices.Equal(got, want)
	}
}

// listening returns a condition: the proxy has (or, with want false, has not) a listener on addr.
func (e *env) listening(proto corev1.Protocol, addr netip.AddrPort, want bool) func() bool {
	return func() bool {
		e.proxy.mu.Lock()
		defer e.proxy.mu.Unlock()
		_, ok := e.proxy.listeners[listenKey{proto: proto, addr: addr}]
		return ok == want
	}
}

// get sends one HTTP request on a new connection from local (any loopback address when
// invalid) and returns the body.
func get(addr netip.AddrPort, local netip.Addr) (string, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	if local.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// podOf extracts the pod name from a kubia answer.
func podOf(answer string) string {
	return answer[strings.LastIndex(answer, " ")+1:]
}
