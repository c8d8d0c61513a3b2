package e2e

import (
	"context"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// helmBinary is the helm test/setup.sh installs (with go install, into GOPATH/bin), or the one
// on PATH.
func helmBinary(t *testing.T) string {
	t.Helper()
	installed := filepath.Join(build.Default.GOPATH, "bin", "helm")
	if _, err := os.Stat(installed); err == nil {
		return installed
	}
	path, err := exec.LookPath("helm")
	if err != nil {
		t.Fatalf("helm is not installed (test/setup.sh installs it): %v", err)
	}
	return path
}

// TestHelm: helm v4, which writes with server-side apply, installs, upgrades, rolls back and
// uninstalls the chart `helm create` makes, against a server whose pods are processes.
//
// The chart runs nginx on port 80; kubia on 8080 stands in for it here (image and port set).
func TestHelm(t *testing.T) {
	t.Parallel()
	helm := helmBinary(t)
	s := startServer(t)
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, helm, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.home,
			"HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
			"HELM_DATA_HOME="+filepath.Join(dir, "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	values := func(tag string, replicas string) []string {
		return []string{"--set", "image.repository=luksa/kubia", "--set", "image.tag=" + tag,
			"--set", "service.port=8080", "--set", "replicaCount=" + replicas, "--wait", "--timeout", "2m"}
	}
	run("create", "mychart")
	ctx := context.Background()
	c := s.client()
	deployment := func() (image string, replicas int32) {
		t.Helper()
		d, err := c.AppsV1().Deployments("default").Get(ctx, "web-mychart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image, *d.Spec.Replicas
	}

	contains(t, "install", run(append([]string{"install", "web", "./mychart"}, values("v1", "1")...)...), "STATUS: deployed", "REVISION: 1")
	d, err := c.AppsV1().Deployments("default").Get(ctx, "web-mychart", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != 1 {
		t.Errorf("after install --wait: %d ready replicas, want 1", d.Status.ReadyReplicas)
	}
	applied := false
	for _, e := range d.ManagedFields {
		applied = applied || e.Manager == "helm" && e.Operation == metav1.ManagedFieldsOperationApply
	}
	if !applied {
		t.Errorf("managed fields %+v: want helm's Apply", d.ManagedFields)
	}
	for _, what := range []func() error{
		func() error {
			_, err := c.CoreV1().Services("default").Get(ctx, "web-mychart", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := c.CoreV1().ServiceAccounts("default").Get(ctx, "web-mychart", metav1.GetOptions{})
			return err
		},
	} {
		if err := what(); err != nil {
			t.Errorf("after install: %v", err)
		}
	}

	contains(t, "upgrade", run(append([]string{"upgrade", "web", "./mychart"}, values("v2", "2")...)...), "STATUS: deployed", "REVISION: 2")
	if image, replicas := deployment(); image != "luksa/kubia:v2" || replicas != 2 {
		t.Errorf("after upgrade: %s × %d, want luksa/kubia:v2 × 2", image, replicas)
	}

	contains(t, "rollback", run("rollback", "web", "1", "--wait", "--timeout", "2m"), "Rollback was a success")
	if image, replicas := deployment(); image != "luksa/kubia:v1" || replicas != 1 {
		t.Errorf("after rollback: %s × %d, want luksa/kubia:v1 × 1", image, replicas)
	}
	contains(t, "history", run("history", "web"), "Rollback to 1")

	contains(t, "uninstall", run("uninstall", "web", "--wait"), `release "web" uninstalled`)
	if _, err := c.CoreV1().Services("default").Get(ctx, "web-mychart", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service after uninstall: err = %v, want NotFound", err)
	}
	eventually(t, time.Minute, "the deployment and its release records to go", func() bool {
		_, err := c.AppsV1().Deployments("default").Get(ctx, "web-mychart", metav1.GetOptions{})
		secrets, lerr := c.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
		return apierrors.IsNotFound(err) && lerr == nil && len(secrets.Items) == 0
	})
}
