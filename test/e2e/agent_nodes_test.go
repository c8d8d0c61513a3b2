package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAgentSecondNodeAndNodeLoss: a second agent joins with its own node IP and serves its pods'
// logs through the API server; when it is killed its node goes NotReady and its pods are
// replaced on the first node.
func TestAgentSecondNodeAndNodeLoss(t *testing.T) {
	t.Parallel()
	s, n := startAgentServer(t, "--node-monitor-grace-period", "4s", "--default-unreachable-toleration", "2s")
	c := s.client()
	a := startAgent(t, s, "n2", n.nodeIP(2), "--node-lease-duration", "4s")
	waitNodeReady(t, c, "n2")

	if _, errOut, err := s.run(builtinKubectl(), fmt.Sprintf(kubiaDeployment, 4), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, errOut)
	}
	var onN2 []corev1.Pod
	eventually(t, 60*time.Second, "4 kubia pods Ready on both nodes", func() bool {
		pods := podsReady(c, "app=kubia")
		onN2 = nil
		for _, p := range pods {
			if p.Spec.NodeName == "n2" {
				onN2 = append(onN2, p)
			}
		}
		return len(pods) == 4 && len(onN2) > 0 && len(onN2) < 4
	})
	p := onN2[0]
	var code int
	var body string
	eventually(t, 10*time.Second, "pod on n2 answering", func() bool {
		var err error
		code, body, err = httpGet(p.Status.PodIP + ":8080")
		return err == nil
	})
	if code != 200 || body != "This is v1 running in pod "+p.Name+"\n" {
		t.Fatalf("pod %s on n2 answered %d %q", p.Name, code, body)
	}
	// The second agent copies the pod's output to its log file in the background.
	eventually(t, 10*time.Second, "logs through the API server from the second node", func() bool {
		return s.must(builtinKubectl(), "logs", p.Name) != ""
	})

	a.kill()
	eventually(t, 30*time.Second, "n2 NotReady (Unknown) and tainted", func() bool {
		node, err := c.CoreV1().Nodes().Get(context.Background(), "n2", metav1.GetOptions{})
		if err != nil {
			return false
		}
		tainted := false
		for _, tn := range node.Spec.Taints {
			tainted = tainted || (tn.Key == corev1.TaintNodeUnreachable && tn.Effect == corev1.TaintEffectNoExecute)
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionUnknown && tainted
			}
		}
		return false
	})
	eventually(t, 60*time.Second, "4 Ready kubia pods, all on n1", func() bool {
		pods := podsReady(c, "app=kubia")
		if len(pods) != 4 {
			return false
		}
		for _, p := range pods {
			if p.Spec.NodeName != "n1" {
				return false
			}
		}
		return true
	})
}
