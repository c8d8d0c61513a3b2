package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testImagesManifest = `apiVersion: v1
kind: Pod
metadata:
  name: netexec
  labels: {app: netexec}
spec:
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080", "--udp-port=8081"]
    ports: [{containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: netexec
spec:
  selector: {app: netexec}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: busybox
spec:
  containers:
  - name: busybox
    image: registry.k8s.io/e2e-test-images/busybox:1.36.1-1
    command: ["/bin/sh", "-c", "echo hi; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: httpd
spec:
  containers:
  - name: httpd
    image: registry.k8s.io/e2e-test-images/httpd:2.4.38-4
    ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx
    ports: [{containerPort: 80}]
`

// getURL fetches url and returns its status and body.
func getURL(url string) (int, string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestTestImages: the stand-ins of upstream's test images run as real pods: agnhost's netexec
// answers /hostname on its pod IP and through its Service, busybox runs its shell command, httpd
// and nginx serve port 80 of their pod IPs.
func TestTestImages(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c, k := s.client(), builtinKubectl()
	if out, errOut, err := s.run(k, testImagesManifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s%s", err, out, errOut)
	}
	ip := map[string]string{}
	for _, name := range []string{"netexec", "busybox", "httpd", "nginx"} {
		var last *corev1.Pod
		eventually(t, 60*time.Second, "pod "+name+" ready", func() bool {
			last = getPod(t, c, name)
			return podReady(last)
		})
		ip[name] = last.Status.PodIP
	}

	base := "http://" + net.JoinHostPort(ip["netexec"], "8080")
	if code, body, err := getURL(base + "/hostname"); err != nil || code != 200 || body != "netexec" {
		t.Errorf("netexec /hostname on its pod IP: %d %q %v, want 200 netexec", code, body, err)
	}
	if code, body, err := getURL(base + "/echo?msg=skiff"); err != nil || code != 200 || body != "skiff" {
		t.Errorf("netexec /echo: %d %q %v", code, body, err)
	}
	svc, err := c.CoreV1().Services("default").Get(context.Background(), "netexec", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svcURL := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/hostname"
	eventually(t, 30*time.Second, "netexec's /hostname through its Service at "+svcURL, func() bool {
		code, body, err := getURL(svcURL)
		return err == nil && code == 200 && body == "netexec"
	})
	// netexec dials other pods: here httpd's page.
	dial := fmt.Sprintf("%s/dial?request=index.html&protocol=http&host=%s&port=80&tries=1", base, ip["httpd"])
	if code, body, err := getURL(dial); err != nil || code != 200 || !strings.Contains(body, "It works!") {
		t.Errorf("netexec /dial of httpd: %d %q %v", code, body, err)
	}

	eventually(t, 30*time.Second, "busybox's log", func() bool {
		out, _, err := s.run(k, "", "logs", "busybox")
		return err == nil && out == "hi\n"
	})
	for name, want := range map[string]string{"httpd": "<h1>It works!</h1>", "nginx": "<title>Welcome to nginx!</title>"} {
		code, body, err := getURL("http://" + net.JoinHostPort(ip[name], "80") + "/")
		if err != nil || code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s on port 80 of %s: %d %q %v, want %q", name, ip[name], code, body, err, want)
		}
	}
	events := s.must(k, "get", "events", "--field-selector", "involvedObject.name=httpd")
	for _, want := range []string{`Container image "registry.k8s.io/e2e-test-images/httpd:2.4.38-4" already present on machine`, "Created container: httpd", "Started container httpd"} {
		if !strings.Contains(events, want) {
			t.Errorf("httpd's events lack %q:\n%s", want, events)
		}
	}
}

// TestImagePullErrors: an image neither built in nor imported fails as on a kubelet: the
// container waits with ErrImagePull, then ImagePullBackOff, and the pod's events tell the
// pulls and back-offs, as kubectl get, get events and describe show them.
func TestImagePullErrors(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c, k := s.client(), builtinKubectl()
	w, err := c.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=missing"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s.must(k, "run", "missing", "--image=example.com/nothing/here:1.0", "--restart=Never")

	var reasons []string
	deadline := time.After(60 * time.Second)
	for !slices.Contains(reasons, "ImagePullBackOff") {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				continue
			}
			if r := p.Status.ContainerStatuses[0].State.Waiting.Reason; len(reasons) == 0 || reasons[len(reasons)-1] != r {
				reasons = append(reasons, r)
			}
		case <-deadline:
			t.Fatalf("waiting reasons seen: %q; want ErrImagePull then ImagePullBackOff", reasons)
		}
	}
	if i := slices.Index(reasons, "ErrImagePull"); i < 0 || i > slices.Index(reasons, "ImagePullBackOff") {
		t.Errorf("waiting reasons %q; want ErrImagePull before ImagePullBackOff", reasons)
	}
	eventually(t, 30*time.Second, "kubectl get pod showing ImagePullBackOff", func() bool {
		out, _, err := s.run(k, "", "get", "pod", "missing", "--no-headers")
		return err == nil && strings.Contains(out, "ImagePullBackOff")
	})

	image := `"example.com/nothing/here:1.0"`
	wantEvents := []string{
		"Pulling image " + image,
		"Failed to pull image " + image + ": image " + image + " not found",
		"Error: ErrImagePull",
		"Back-off pulling image " + image,
		"Error: ImagePullBackOff",
	}
	eventually(t, 30*time.Second, "the pull's events", func() bool {
		out, _, err := s.run(k, "", "get", "events", "--field-selector", "involvedObject.name=missing")
		for _, want := range wantEvents {
			if err != nil || !strings.Contains(out, want) {
				return false
			}
		}
		return strings.Contains(out, "Pulling") && strings.Contains(out, "BackOff") && strings.Contains(out, "Failed")
	})
	describe := s.must(k, "describe", "pod", "missing")
	for _, want := range []string{"Reason:       ImagePullBackOff", "Back-off pulling image " + image, "Error: ErrImagePull"} {
		if !strings.Contains(describe, want) {
			t.Errorf("kubectl describe lacks %q:\n%s", want, describe)
		}
	}
	if p := getPod(t, c, "missing"); p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", p.Status.Phase)
	}
}
