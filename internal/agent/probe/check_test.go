package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestRunHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("X-Custom") != "yes" {
				w.WriteHeader(http.StatusTeapot)
			}
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	hdr := []corev1.HTTPHeader{{Name: "X-Custom", Value: "yes"}}
	tests := []struct {
		name    string
		probe   corev1.Probe
		want    Result
		wantMsg string
	}{
		{"2xx succeeds", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt32(int32(port)), HTTPHeaders: hdr}}}, Success, ""},
		{"named port", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("http"), HTTPHeaders: hdr}}}, Success, ""},
		{"redirect on the same host is followed", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/redirect", Port: intstr.FromInt32(int32(port)), HTTPHeaders: hdr}}}, Success, ""},
		{"500 fails with upstream's message", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/fail", Port: intstr.FromInt32(int32(port))}}}, Failure, "HTTP probe failed with statuscode: 500"},
		{"unknown port name fails", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("nope")}}}, Failure, "couldn't find port: nope in app"},
		{"tcp to a listening port succeeds", corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}, Success, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := Run(context.Background(), &tt.probe, Target{PodIP: host, Container: c})
			if got != tt.want {
				t.Fatalf("result %v (%s), want %v", got, msg, tt.want)
			}
			if tt.wantMsg != "" && msg != tt.wantMsg {
				t.Errorf("message %q, want %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestRunTCPRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	r, msg := Run(context.Background(), p, Target{PodIP: "127.0.0.1"})
	if r != Failure || !strings.Contains(msg, "connection refused") {
		t.Errorf("got %v %q, want a refused failure", r, msg)
	}
}

func TestRunExec(t *testing.T) {
	exec := func(_ context.Context, argv []string) ([]byte, int, error) {
		if argv[0] == "true" {
			return nil, 0, nil
		}
		return []byte("cat: /tmp/healthy: No such file or directory\n"), 1, nil
	}
	ok := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	if r, msg := Run(context.Background(), ok, Target{Exec: exec}); r != Success {
		t.Errorf("exit 0: %v %q", r, msg)
	}
	bad := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}}
	if r, msg := Run(context.Background(), bad, Target{Exec: exec}); r != Failure || !strings.Contains(msg, "No such file") {
		t.Errorf("exit 1: %v %q, want failure with the command's output", r, msg)
	}
}
