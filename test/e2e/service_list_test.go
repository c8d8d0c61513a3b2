package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServiceList: `skiff service list` answers the chapter's "what do I curl" question with one
// row per Service, its NodePort URL on the node's IP, as `minikube service list` does; it finds
// the kubeconfig through --kubeconfig or $KUBECONFIG.
func TestServiceList(t *testing.T) {
	n := newAgentNet(t)
	s := startServer(t, "--runtime", "fake", "--node-name", "n1", "--node-ip", n.nodeIP(1), "--service-cidr", fmt.Sprintf("127.%d.0.0/16", n.k+1))
	waitNodeReady(t, s.client(), "n1")
	if out, errOut, err := s.run(builtinKubectl(), kubiaService("app: kubia")+`---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: kube-system
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 8080}
  - {name: https, port: 443}
---
apiVersion: v1
kind: Service
metadata:
  name: internal
spec:
  selector: {app: internal}
  ports:
  - {port: 80}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s%s", err, out, errOut)
	}

	list := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(skiffBin, append([]string{"service", "list"}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"HOME=" + s.home}, env...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("skiff service list %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var out string
	eventually(t, 10*time.Second, "the LoadBalancer's node ports allocated", func() bool {
		out = list([]string{"KUBECONFIG=" + s.kubeconfig})
		return strings.Contains(out, "http/8080")
	})
	t.Logf("skiff service list:\n%s", out)
	url := fmt.Sprintf("http://%s:%d", n.nodeIP(1), svcNodePort)
	for _, want := range []string{
		"| NAMESPACE   | NAME       | TARGET PORT  | URL ",
		"| default     | kubia      | 80           | " + url + " ",
		"| default     | internal   | No node port |",
		"| default     | kubernetes | No node port |",
		"| kube-system | web        | http/8080    | http://" + n.nodeIP(1) + ":3",
		"|             |            | https/443    | https://" + n.nodeIP(1) + ":3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if i, j := strings.Index(out, "| default     | internal"), strings.Index(out, "| default     | kubia"); i < 0 || j < 0 || i > j {
		t.Errorf("rows not sorted by namespace and name")
	}

	// --kubeconfig works without $KUBECONFIG, and -n narrows to one namespace.
	out = list([]string{"KUBECONFIG="}, "--kubeconfig", s.kubeconfig, "-n", "kube-system")
	if strings.Contains(out, "kubia") || !strings.Contains(out, "| kube-system | web ") {
		t.Errorf("skiff service list -n kube-system:\n%s", out)
	}
}
