package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCascadeNamespaceQuota: deleting a Deployment deletes its ReplicaSets and pods (background),
// --cascade=orphan keeps them, a ResourceQuota refuses the pod over its limit with 403, and
// deleting a namespace deletes everything in it, then the namespace.
func TestCascadeNamespaceQuota(t *testing.T) {
	s := startServer(t, "--runtime", "fake")
	k := preferredKubectl(t)
	s.must(k, "create", "namespace", "t1")
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
