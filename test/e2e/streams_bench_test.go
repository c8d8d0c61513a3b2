package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
)

// sendBytesEnv, set in a pod's environment, makes the e2e test binary a server that sends that
// many bytes to every connection on POD_IP:9000 and closes it (the port-forward benchmark's pod).
const sendBytesEnv = "SKIFF_E2E_SEND_BYTES"

func serveBytes() {
	n, err := strconv.ParseInt(os.Getenv(sendBytesEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("POD_IP"), "9000"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buf := make([]byte, 1<<20)
	for {
		conn, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer conn.Close()
			for left := n; left > 0; {
				m := min(left, int64(len(buf)))
				if _, err := conn.Write(buf[:m]); err != nil {
					return
				}
				left -= m
			}
		}()
	}
}

// streamsBenchServer starts a server with pod "kubia" running and returns it with a client.
func streamsBenchServer(b *testing.B, pods ...*corev1.Pod) (*server, kubernetes.Interface) {
	s, _ := benchServer(b)
	c := s.client()
	for _, p := range append([]*corev1.Pod{kubiaPod("kubia", "")}, pods...) {
		if _, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		eventually(b, 60*time.Second, "pod "+p.Name+" Ready", func() bool {
			got, err := c.CoreV1().Pods("default").Get(context.Background(), p.Name, metav1.GetOptions{})
			return err == nil && podReady(got)
		})
	}
	return s, c
}

func p50(samples []time.Duration) float64 {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	return float64(samples[len(samples)/2]) / float64(time.Millisecond)
}

// bundledKubectl is the bundled kubectl of that version, if there is one.
func bundledKubectl(version string) (kubectl, bool) {
	real, err := filepath.EvalSymlinks("/usr/bin/kubectl")
	if err != nil {
		return kubectl{}, false
	}
	path := filepath.Join(filepath.Dir(real), "kubectl."+version)
	if _, err := os.Stat(path); err != nil {
		return kubectl{}, false
	}
	return kubectl{name: version, argv: []string{path}}, true
}

// BenchmarkExec measures an exec round trip to a pod of the embedded node: `kubectl exec POD
// -- true` (a whole kubectl process: discovery cache, TLS, upgrade, status) and client-go's
// executors alone on one rest.Config.
func BenchmarkExec(b *testing.B) {
	s, c := streamsBenchServer(b)
	ks := []kubectl{builtinKubectl()}
	if k, ok := bundledKubectl("1.27"); ok {
		ks = append(ks, k)
	}
	for _, k := range ks {
		b.Run("kubectl "+k.name+" exec true", func(b *testing.B) {
			var samples []time.Duration
			for range b.N {
				start := time.Now()
				if out, errOut, err := s.run(k, "", "exec", "kubia", "--", "true"); err != nil {
					b.Fatalf("%v %s %s", err, out, errOut)
				}
				samples = append(samples, time.Since(start))
			}
			b.ReportMetric(p50(samples), "p50-ms")
		})
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	for _, protocol := range []string{"SPDY", "WebSocket"} {
		b.Run("client-go "+protocol+" exec true", func(b *testing.B) {
			var samples []time.Duration
			for range b.N {
				start := time.Now()
				var out strings.Builder
				if err := clientGoExec(cfg, c, protocol, "kubia", []string{"true"}, remotecommand.StreamOptions{Stdout: &out}); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
			}
			b.ReportMetric(p50(samples), "p50-ms")
		})
	}
}

// BenchmarkPortForward reads 100 MB from a pod, straight from its IP and through kubectl
// port-forward (the built-in kubectl tunnels SPDY over WebSocket; 1.27 speaks SPDY).
func BenchmarkPortForward(b *testing.B) {
	const size = 100 << 20
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	sender := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sender"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "sender", Image: "kubia", Command: []string{exe},
			Env: []corev1.EnvVar{{Name: sendBytesEnv, Value: strconv.Itoa(size)},
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9000)}}},
		}}},
	}
	s, c := streamsBenchServer(b, sender)
	pod, err := c.CoreV1().Pods("default").Get(context.Background(), "sender", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	read := func(b *testing.B, addr string) {
		b.SetBytes(size)
		for range b.N {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, conn)
			conn.Close()
			if err != nil || n != size {
				b.Fatalf("read %d bytes (%v), want %d", n, err, size)
			}
		}
	}
	b.Run("direct to the pod IP", func(b *testing.B) { read(b, net.JoinHostPort(pod.Status.PodIP, "9000")) })
	e := &streamsEnv{s: s, c: c}
	ks := []kubectl{builtinKubectl()}
	if k, ok := bundledKubectl("1.27"); ok {
		ks = append(ks, k)
	}
	for _, k := range ks {
		b.Run("kubectl "+k.name+" port-forward", func(b *testing.B) {
			addr, stop := e.portForward(b, k, "pod/sender", "9000")
			defer stop()
			read(b, addr)
		})
	}
}
