package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const kubiaV1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 3
  template:
    metadata:
      name: kubia
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v1
        name: nodejs
  selector:
    matchLabels:
      app: kubia
`

// kubiaV3Beta is the chapter's readiness-probe manifest, as written: apps/v1beta1, no selector.
const kubiaV3Beta = `apiVersion: apps/v1beta1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 3
  minReadySeconds: 10
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
    type: RollingUpdate
  template:
    metadata:
      name: kubia
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v3
        name: nodejs
        readinessProbe:
          periodSeconds: 1
          httpGet:
            path: /
            port: 8080
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// TestKubectlVersions drives one server per kubectl version through the everyday commands.
func TestKubectlVersions(t *testing.T) {
	for _, k := range kubectls(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t)
			exerciseKubectl(t, s, k)
		})
	}
}

func exerciseKubectl(t *testing.T, s *server, k kubectl) {
	v1 := writeFile(t, "kubia-deployment.yaml", kubiaV1)
	contains(t, "apply (create)", s.must(k, "apply", "-f", v1), "deployment.apps/kubia created")
	contains(t, "apply (again)", s.must(k, "apply", "-f", v1), "deployment.apps/kubia unchanged")
	v2 := writeFile(t, "kubia-v2.yaml", strings.Replace(kubiaV1, "kubia:v1", "kubia:v2", 1))
	contains(t, "apply (changed)", s.must(k, "apply", "-f", v2), "deployment.apps/kubia configured")

	contains(t, "get", s.must(k, "get", "deploy"), "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "kubia")
	contains(t, "get -o wide", s.must(k, "get", "deploy", "-o", "wide"), "CONTAINERS", "IMAGES", "SELECTOR", "luksa/kubia:v2", "app=kubia")
	contains(t, "get -o name", s.must(k, "get", "deploy", "-o", "name"), "deployment.apps/kubia")
	contains(t, "get --show-labels", s.must(k, "get", "deploy", "kubia", "--show-labels"), "LABELS")
	contains(t, "get -A", s.must(k, "get", "deploy", "-A"), "NAMESPACE", "default")
	contains(t, "get -o yaml", s.must(k, "get", "deploy", "kubia", "-o", "yaml"), "apiVersion: apps/v1", "kind: Deployment", "maxSurge: 25%")
	var obj map[string]interface{}
	if err := json.Unmarshal([]byte(s.must(k, "get", "deploy", "kubia", "-o", "json")), &obj); err != nil {
		t.Fatalf("get -o json is not JSON: %v", err)
	}
	if got := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != "luksa/kubia:v2" {
		t.Fatalf("jsonpath image = %q", got)
	}
	contains(t, "custom-columns", s.must(k, "get", "deploy", "-o", "custom-columns=N:.metadata.name,R:.spec.replicas"), "kubia", "3")
	contains(t, "describe", s.must(k, "describe", "deploy", "kubia"), "Name:", "kubia", "RollingUpdateStrategy:", "25% max unavailable, 25% max surge")

	s.must(k, "patch", "deployment", "kubia", "-p", `{"spec": {"minReadySeconds": 10}}`)
	s.must(k, "patch", "deployment", "kubia", "--type=merge", "-p", `{"metadata":{"labels":{"tier":"web"}}}`)
	s.must(k, "patch", "deployment", "kubia", "--type=json", "-p", `[{"op":"replace","path":"/spec/revisionHistoryLimit","value":5}]`)
	got := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.minReadySeconds} {.metadata.labels.tier} {.spec.revisionHistoryLimit}")
	if got != "10 web 5" {
		t.Fatalf("after patches: %q, want %q", got, "10 web 5")
	}
	s.must(k, "label", "deploy", "kubia", "team=a")
	s.must(k, "annotate", "deploy", "kubia", "note=hello")
	if got := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.metadata.labels.team} {.metadata.annotations.note}"); got != "a hello" {
		t.Fatalf("label/annotate: %q", got)
	}
	contains(t, "scale", s.must(k, "scale", "deploy", "kubia", "--replicas=5"), "deployment.apps/kubia scaled")
	if got := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.replicas}"); got != "5" {
		t.Fatalf("replicas after scale = %q", got)
	}
	contains(t, "explain", s.must(k, "explain", "deployment.spec.strategy"), "RollingUpdate")

	watchOneChange(t, s, k)

	contains(t, "delete", s.must(k, "delete", "deploy", "kubia"), `deployment.apps "kubia" deleted`)
	_, errOut, err := s.run(k, "", "get", "deploy", "kubia")
	if err == nil || !strings.Contains(errOut, `deployments.apps "kubia" not found`) {
		t.Fatalf("get after delete: err=%v stderr=%s", err, errOut)
	}

	// the chapter's apps/v1beta1 manifest applies as written
	beta := writeFile(t, "kubia-deployment-v3-with-readinesscheck.yaml", kubiaV3Beta)
	contains(t, "apply v1beta1", s.must(k, "apply", "-f", beta), "deployment.apps/kubia created")
	if got := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.selector.matchLabels.app} {.spec.strategy.rollingUpdate.maxUnavailable}"); got != "kubia 0" {
		t.Fatalf("v1beta1 deployment as apps/v1: %q", got)
	}

	// bad input: one clear line, non-zero exit, nothing changed
	bad := writeFile(t, "bad.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: -1\n  selector:\n    matchLabels: {app: x}\n  template:\n    metadata:\n      labels: {app: other}\n    spec:\n      containers: [{name: c, image: i}]\n")
	_, errOut, err = s.run(k, "", "apply", "-f", bad)
	if err == nil || !strings.Contains(errOut, "spec.replicas") || !strings.Contains(errOut, "selector") {
		t.Fatalf("invalid deployment: err=%v stderr=%s", err, errOut)
	}
	if _, _, err := s.run(k, "", "get", "deploy", "bad"); err == nil {
		t.Fatal("invalid deployment was stored")
	}
}

// watchOneChange runs `kubectl get deploy kubia -w`, changes the deployment, and waits for the
// watch to print the change.
func watchOneChange(t *testing.T, s *server, k kubectl) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.argv[0], append(append([]string{}, k.argv[1:]...), "get", "deploy", "kubia", "-w", "--output-watch-events")...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.home)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("kubectl get -w ended early")
			}
			return l
		case <-ctx.Done():
			t.Fatal("kubectl get -w printed nothing in time")
		}
		return ""
	}
	if h := next(); !strings.Contains(h, "EVENT") || !strings.Contains(h, "NAME") {
		t.Fatalf("watch header: %q", h)
	}
	if l := next(); !strings.Contains(l, "ADDED") || !strings.Contains(l, "kubia") {
		t.Fatalf("watch first row: %q", l)
	}
	s.must(k, "scale", "deploy", "kubia", "--replicas=4")
	for {
		if l := next(); strings.Contains(l, "MODIFIED") && strings.Contains(l, "kubia") {
			return
		}
	}
}
