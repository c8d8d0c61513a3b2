package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestProxyRoundRobinOnClusterIPAndNodePort(t *testing.T) {
	e := newEnv(t, Options{})
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	e.createService(e.service(30123))
	e.setEndpoints(a.addr.String(), b.addr.String(), c.addr.String())
	clusterAddr := netip.AddrPortFrom(e.clusterIP, 80)
	nodeAddr := netip.AddrPortFrom(e.nodeIP, 30123)
	e.waitFor("cluster IP served", e.serving(clusterAddr, a.addr, b.addr, c.addr))
	e.waitFor("node port served", e.serving(nodeAddr, a.addr, b.addr, c.addr))

	for _, addr := range []netip.AddrPort{clusterAddr, nodeAddr} {
		counts := map[string]int{}
		for range 30 {
			answer, err := get(addr, netip.Addr{})
			if err != nil {
				t.Fatalf("GET %s: %v", addr, err)
			}
			counts[podOf(answer)]++
		}
		if counts["a"] != 10 || counts["b"] != 10 || counts["c"] != 10 {
			t.Errorf("30 requests to %s spread %v; want 10 each", addr, counts)
		}
	}
}

func TestProxyRetriesRefusedEndpoint(t *testing.T) {
	e := newEnv(t, Options{})
	live := startBackend(t, "live")
	// An endpoint whose process has stopped: its port refuses connections.
	dead := startBackend(t, "dead")
	dead.stop()
	e.createService(e.service(30124))
	e.setEndpoints(dead.addr.String(), live.addr.String())
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("both endpoints", e.serving(addr, dead.addr, live.addr))

	for i := range 20 {
		answer, err := get(addr, netip.Addr{})
		if err != nil {
			t.Fatalf("request %d failed although a live endpoint exists: %v", i, err)
		}
		if podOf(answer) != "live" {
			t.Fatalf("request %d answered by %q", i, answer)
		}
	}
	if n := e.proxy.stats.dialFailures.Load(); n < 10 {
		t.Errorf("%d refused dials retried; want about 10 (every other pick is the dead endpoint)", n)
	}
}

func TestProxyNoEndpointsRefusesQuickly(t *testing.T) {
	e := newEnv(t, Options{})
	e.createService(e.service(30125))
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("listener", e.serving(addr))
	if _, err := get(addr, netip.Addr{}); err == nil {
		t.Fatal("a request with no endpoints succeeded")
	}
	if e.proxy.stats.rejected.Load() != 1 {
		t.Errorf("rejected %d connections; want 1", e.proxy.stats.rejected.Load())
	}
}

func TestProxyFollowsEndpointChanges(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := startBackend(t, "a"), startBackend(t, "b")
	e.createService(e.service(30126))
	e.setEndpoints(a.addr.String(), b.addr.String())
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("a and b", e.serving(addr, a.addr, b.addr))

	// A keep-alive connection to b, opened before b leaves.
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	ask := func() string {
		t.Helper()
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: kubia\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := readResponse(rd)
		if err != nil {
			t.Fatalf("keep-alive connection: %v", err)
		}
		return resp
	}
	byName := map[string]*backend{"a": a, "b": b}
	first := podOf(ask())
	used, other := byName[first], byName[map[string]string{"a": "b", "b": "a"}[first]]

	// The endpoint the open connection does not use turns unready: new connections avoid it.
	e.setEndpoints(used.addr.String(), "!"+other.addr.String())
	e.waitFor("only "+first, e.serving(addr, used.addr))
	for i := range 10 {
		answer, err := get(addr, netip.Addr{})
		if err != nil || podOf(answer) != first {
			t.Fatalf("request %d after %s left: %q, %v", i, other.name, answer, err)
		}
	}
	// Now the open connection's endpoint leaves too: new connections go to the other one, the
	// open connection keeps working until it closes.
	e.setEndpoints(other.addr.String())
	e.waitFor("only "+other.name, e.serving(addr, other.addr))
	if answer, err := get(addr, netip.Addr{}); err != nil || podOf(answer) != other.name {
		t.Fatalf("new connection after the switch: %q, %v", answer, err)
	}
	if got := podOf(ask()); got != first {
		t.Errorf("the open connection moved to %s", got)
	}
}

// readResponse reads one HTTP/1.1 response with a Content-Length and returns its body.
func readResponse(rd *bufio.Reader) (string, error) {
	n := -1
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			fmt.Sscan(v, &n)
		}
	}
	if n < 0 {
		return "", errors.New("no content-length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(body)), nil
}

func TestProxySessionAffinity(t *testing.T) {
	e := newEnv(t, Options{})
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	svc := e.service(30127)
	svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	e.createService(svc)
	e.setEndpoints(a.addr.String(), b.addr.String(), c.addr.String())
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("three endpoints", e.serving(addr, a.addr, b.addr, c.addr))

	seen := map[string]bool{}
	for _, client := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		from := netip.MustParseAddr(client)
		var pod string
		for i := range 5 {
			answer, err := get(addr, from)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				pod = podOf(answer)
			} else if podOf(answer) != pod {
				t.Fatalf("client %s moved from %s to %s", client, pod, podOf(answer))
			}
		}
		seen[pod] = true
	}
	if len(seen) != 3 {
		t.Errorf("three clients stuck to %v; want three different pods (round robin for new clients)", seen)
	}
}

func TestProxyListenerLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	a := startBackend(t, "a")
	svc := e.service(30128)
	e.createService(svc)
	e.setEndpoints(a.addr.String())
	port80 := netip.AddrPortFrom(e.clusterIP, 80)
	node := netip.AddrPortFrom(e.nodeIP, 30128)
	e.waitFor("port 80", e.serving(port80, a.addr))

	// The Service port moves from 80 to 81 and stops being a NodePort.
	svc = svc.DeepCopy()
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Ports[0].Port, svc.Spec.Ports[0].NodePort = 81, 0
	e.updateService(svc)
	port81 := netip.AddrPortFrom(e.clusterIP, 81)
	e.waitFor("port 81", e.serving(port81, a.addr))
	e.waitFor("port 80 closed", e.listening(corev1.ProtocolTCP, port80, false))
	e.waitFor("node port closed", e.listening(corev1.ProtocolTCP, node, false))
	if answer, err := get(port81, netip.Addr{}); err != nil || podOf(answer) != "a" {
		t.Fatalf("GET port 81: %q, %v", answer, err)
	}
	for _, old := range []netip.AddrPort{port80, node} {
		if _, err := net.DialTimeout("tcp", old.String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s after it was removed: %v; want connection refused", old, err)
		}
	}

	// The Service goes away.
	if err := e.client.CoreV1().Services("default").Delete(context.Background(), "kubia", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("port 81 closed", e.listening(corev1.ProtocolTCP, port81, false))
	if _, err := net.DialTimeout("tcp", port81.String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s after the Service was deleted: %v; want connection refused", port81, err)
	}

	// Run returning closes the rest.
	svc2 := e.service(30129)
	svc2.Name = "kubia2"
	e.createService(svc2)
	e.waitFor("kubia2 listening", e.listening(corev1.ProtocolTCP, netip.AddrPortFrom(e.clusterIP, 80), true))
	e.stop()
	if _, err := net.DialTimeout("tcp", netip.AddrPortFrom(e.clusterIP, 80).String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Run returned: %v; want connection refused", err)
	}
}

func TestProxyHalfClose(t *testing.T) {
	// A backend that reads to EOF, then answers with the byte count and closes: it only works if
	// the proxy passes the client's half-close on and keeps the other direction open.
	ln, err := net.Listen("tcp", netip.AddrPortFrom(randomLoopback(), 9000).String())
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "read %d bytes", n)
	}()
	t.Cleanup(func() { ln.Close(); <-served })

	e := newEnv(t, Options{})
	e.createService(e.service(30130))
	ep := netip.MustParseAddrPort(ln.Addr().String())
	e.setEndpoints(ep.String())
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("endpoint", e.serving(addr, ep))

	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	payload := strings.Repeat("x", 1<<20)
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != fmt.Sprintf("read %d bytes", len(payload)) {
		t.Errorf("reply %q", reply)
	}
}

func TestProxyUDP(t *testing.T) {
	echo, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(randomLoopback(), 5353)))
	if err != nil {
		t.Fatal(err)
	}
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { echo.Close(); <-echoed })

	e := newEnv(t, Options{})
	svc := e.service(0)
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, TargetPort: intstr.FromInt32(5353), Protocol: corev1.ProtocolUDP}}
	e.createService(svc)
	ep := netip.MustParseAddrPort(echo.LocalAddr().String())
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "kubia-udp", Labels: map[string]string{discoveryv1.LabelServiceName: "kubia"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("dns"), Protocol: new(corev1.ProtocolUDP), Port: new(int32(5353))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ep.Addr().String()}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}},
	}
	if _, err := e.client.DiscoveryV1().EndpointSlices("default").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(e.clusterIP, 53)
	e.waitFor("udp listener", func() bool {
		e.proxy.mu.Lock()
		defer e.proxy.mu.Unlock()
		b := e.proxy.listeners[listenKey{proto: corev1.ProtocolUDP, addr: addr}]
		return b != nil && len(b.l.(*udpListener).bal.Load().endpoints()) == 1
	})

	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for i := range 3 {
		msg := fmt.Sprintf("query %d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(waitTimeout))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != "echo "+msg {
			t.Errorf("reply %q; want %q", got, "echo "+msg)
		}
		// The answer comes from the service address, not the endpoint's.
	}
}

func TestProxyLoadBalancer(t *testing.T) {
	e := newEnv(t, Options{NodeName: "node-a"})
	for _, n := range []struct {
		name  string
		ready corev1.ConditionStatus
	}{{"node-0", corev1.ConditionFalse}, {"node-a", corev1.ConditionTrue}, {"node-b", corev1.ConditionTrue}} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: n.ready}}}}
		if _, err := e.client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a := startBackend(t, "a")
	svc := e.service(30131)
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	e.createService(svc)
	e.setEndpoints(a.addr.String())

	// node-a is the first Ready node by name: it writes its IP as the ingress and listens there.
	lbAddr := netip.AddrPortFrom(e.nodeIP, 80)
	e.waitFor("load balancer address", e.serving(lbAddr, a.addr))
	got, err := e.client.CoreV1().Services("default").Get(context.Background(), "kubia", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ing := got.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP != e.nodeIP.String() {
		t.Fatalf("ingress %+v; want [{ip: %s}]", ing, e.nodeIP)
	}
	if answer, err := get(lbAddr, netip.Addr{}); err != nil || podOf(answer) != "a" {
		t.Errorf("GET load balancer %s: %q, %v", lbAddr, answer, err)
	}
	if answer, err := get(netip.AddrPortFrom(e.nodeIP, 30131), netip.Addr{}); err != nil || podOf(answer) != "a" {
		t.Errorf("GET node port: %q, %v", answer, err)
	}
}

func TestWaitUntilNotServing(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := startBackend(t, "a"), startBackend(t, "b")
	e.createService(e.service(30132))
	e.setEndpoints(a.addr.String(), b.addr.String())
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("a and b", e.serving(addr, a.addr, b.addr))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.proxy.WaitUntilNotServing(ctx, b.addr.Addr().AsSlice()); err == nil {
		t.Fatal("WaitUntilNotServing returned while b was in rotation")
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done <- e.proxy.WaitUntilNotServing(ctx, b.addr.Addr().AsSlice())
	}()
	e.setEndpoints(a.addr.String(), "!"+b.addr.String())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// From here on, no new connection reaches b.
	for i := range 10 {
		if answer, err := get(addr, netip.Addr{}); err != nil || podOf(answer) != "a" {
			t.Fatalf("request %d: %q, %v", i, answer, err)
		}
	}
}

func TestProxyRetriesBusyAddress(t *testing.T) {
	e := newEnv(t, Options{BindRetryInterval: 20 * time.Millisecond})
	a := startBackend(t, "a")
	// Something else holds the NodePort's address when the Service appears.
	nodeAddr := netip.AddrPortFrom(e.nodeIP, 30133)
	squatter, err := net.Listen("tcp", nodeAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	e.createService(e.service(30133))
	e.setEndpoints(a.addr.String())
	e.waitFor("cluster IP served", e.serving(netip.AddrPortFrom(e.clusterIP, 80), a.addr))
	e.proxy.mu.Lock()
	_, held := e.proxy.listeners[listenKey{proto: corev1.ProtocolTCP, addr: nodeAddr}]
	e.proxy.mu.Unlock()
	if held {
		t.Fatal("the proxy claims an address another socket holds")
	}
	squatter.Close()
	e.waitFor("node port taken over once free", e.serving(nodeAddr, a.addr))
	if answer, err := get(nodeAddr, netip.Addr{}); err != nil || podOf(answer) != "a" {
		t.Errorf("GET node port: %q, %v", answer, err)
	}
}

func TestProxyWaitsForEndpointThatIsNotListeningYet(t *testing.T) {
	e := newEnv(t, Options{})
	// A pod that is Ready before its process listens: its address refuses at first.
	addr := netip.AddrPortFrom(randomLoopback(), 8080)
	e.createService(e.service(30134))
	e.setEndpoints(addr.String())
	svcAddr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("endpoint", e.serving(svcAddr, addr))

	type result struct {
		answer string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		answer, err := get(svcAddr, netip.Addr{})
		done <- result{answer, err}
	}()
	// Start listening once the proxy has been refused.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for e.proxy.stats.dialFailures.Load() == 0 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the proxy never tried the endpoint")
		}
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "This is v1 running in pod late\n") })}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-served })

	r := <-done
	if r.err != nil || podOf(r.answer) != "late" {
		t.Fatalf("request to a pod that started listening late: %q, %v", r.answer, r.err)
	}
}
