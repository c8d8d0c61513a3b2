package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCascadeNamespaceQuota: deleting a Deployment deletes its ReplicaSets and pods (background),
// --cascade=orphan keeps them, a ResourceQuota refuses the pod over its limit with 403, and
// deleting a namespace deletes everything in it, then the namespace.
func TestCascadeNamespaceQuota(t *testing.T) {
	s := startServer(t, "--runtime", "fake")
	k := preferredKubectl(t)
	s.must(k, "create", "namespace", "t1")
	// The serviceaccount controller makes the default ServiceAccount and publishes the root CA
	// after the namespace is created, not with it: wait for both, as upstream's e2e framework
	// does for every namespace it creates.
	c := s.client()
	ctx := context.Background()
	eventually(t, time.Minute, "the default ServiceAccount of namespace t1", func() bool {
		_, err := c.CoreV1().ServiceAccounts("t1").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	eventually(t, time.Minute, "kube-root-ca.crt in namespace t1", func() bool {
		_, err := c.CoreV1().ConfigMaps("t1").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil
	})
	contains(t, "default service account", s.must(k, "get", "sa", "default", "-n", "t1"), "default")
	contains(t, "root CA published", s.must(k, "get", "cm", "kube-root-ca.crt", "-n", "t1", "-o", "jsonpath={.data.ca\\.crt}"), "BEGIN CERTIFICATE")

	s.must(k, "-n", "t1", "create", "deployment", "kubia", "--image=luksa/kubia:v1", "--replicas=3")
	s.must(k, "-n", "t1", "rollout", "status", "deploy", "kubia")
	s.must(k, "-n", "t1", "delete", "deploy", "kubia")
	eventually(t, 20*time.Second, "ReplicaSets and pods of a deleted Deployment to go", func() bool {
		out, _, _ := s.run(k, "", "-n", "t1", "get", "rs,po", "-o", "name")
		return strings.TrimSpace(out) == ""
	})

	s.must(k, "-n", "t1", "create", "deployment", "k2", "--image=luksa/kubia:v1", "--replicas=2")
	s.must(k, "-n", "t1", "rollout", "status", "deploy", "k2")
	s.must(k, "-n", "t1", "delete", "deploy", "k2", "--cascade=orphan")
	eventually(t, 20*time.Second, "orphaned ReplicaSet to lose its owner", func() bool {
		out := s.must(k, "-n", "t1", "get", "rs", "-o", "jsonpath={.items[*].metadata.ownerReferences}")
		return strings.TrimSpace(out) == ""
	})
	if pods := strings.Fields(s.must(k, "-n", "t1", "get", "po", "-o", "name")); len(pods) != 2 {
		t.Fatalf("orphan cascade deleted pods: %v", pods)
	}

	s.must(k, "-n", "t1", "create", "quota", "q", "--hard=pods=3")
	eventually(t, 20*time.Second, "quota status", func() bool {
		return strings.Contains(s.must(k, "-n", "t1", "describe", "quota", "q"), "pods")
	})
	s.must(k, "-n", "t1", "run", "p1", "--image=luksa/kubia:v1")
	_, errOut, err := s.run(k, "", "-n", "t1", "run", "p2", "--image=luksa/kubia:v1")
	if err == nil || !strings.Contains(errOut, "forbidden: exceeded quota: q") {
		t.Fatalf("pod over quota: err=%v stderr=%s", err, errOut)
	}

	s.must(k, "delete", "namespace", "t1")
	eventually(t, 30*time.Second, "namespace t1 and its content to go", func() bool {
		_, _, err := s.run(k, "", "get", "namespace", "t1")
		return err != nil
	})
}
