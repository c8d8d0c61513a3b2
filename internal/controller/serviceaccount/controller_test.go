package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

const caPEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

// namespace is a namespace in phase; a Terminating one has been deleted, and its finalizer
// holds it.
func namespace(name string, phase v1.NamespacePhase) *v1.Namespace {
	ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1.NamespaceStatus{Phase: phase}}
	if phase == v1.NamespaceTerminating {
		ns.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	}
	return ns
}

// env is a controller over an API server holding objs (beside the namespaces every cluster
// has), with a client of the test's own whose requests are not recorded.
type env struct {
	*controllertest.Cluster
	client kubernetes.Interface
}

// run runs a controller over a cluster holding objs; its waits wake on the events of the
// namespaces, ServiceAccounts and ConfigMaps.
func run(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{Cluster: controllertest.NewCluster(t, objs...)}
	var err error
	if e.client, err = kubernetes.NewForConfig(e.Config()); err != nil {
		t.Fatal(err)
	}
	c := New(e.Client, e.Factory, []byte(caPEM), slog.New(slog.DiscardHandler), Options{})
	core := e.Factory.Core().V1()
	e.Watch(t, core.Namespaces().Informer(), core.ServiceAccounts().Informer(), core.ConfigMaps().Informer())
	ctx, cancel := context.WithCancel(context.Background())
	e.Start(t, ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e
}

// published reports whether ns has the default ServiceAccount and a correct root CA ConfigMap.
func (e *env) published(ns string) func() (bool, string) {
	return func() (bool, string) {
		ctx := context.Background()
		if _, err := e.client.CoreV1().ServiceAccounts(ns).Get(ctx, DefaultName, metav1.GetOptions{}); err != nil {
			return false, fmt.Sprintf("serviceaccount in %s: %v", ns, err)
		}
		cm, err := e.client.CoreV1().ConfigMaps(ns).Get(ctx, RootCAName, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Sprintf("configmap in %s: %v", ns, err)
		}
		if len(cm.Data) != 1 || cm.Data[RootCAKey] != caPEM || cm.Annotations[descriptionAnnotation] != description {
			return false, fmt.Sprintf("configmap in %s: data %v annotations %v", ns, cm.Data, cm.Annotations)
		}
		return true, ""
	}
}

func TestPublishesInEveryActiveNamespace(t *testing.T) {
	// default and kube-system are the server's own.
	e := run(t, namespace("going", v1.NamespaceTerminating))
	e.Eventually(t, "published in default", e.published("default"))
	e.Eventually(t, "published in kube-system", e.published("kube-system"))

	if _, err := e.Client.CoreV1().Namespaces().Create(context.Background(), namespace("new", v1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually(t, "published in the new namespace", e.published("new"))

	// Creates into a terminating namespace would be refused; none is tried.
	for _, r := range e.Requests() {
		if r.Verb == "create" && r.Namespace == "going" {
			t.Errorf("created %s in a terminating namespace", r.Resource)
		}
	}
}

func TestRecreatesAndRepairs(t *testing.T) {
	e := run(t) // default is the server's own
	e.Eventually(t, "published", e.published("default"))
	ctx := context.Background()
	client := e.Client

	if err := client.CoreV1().ServiceAccounts("default").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually(t, "the ServiceAccount recreated", e.published("default"))

	if err := client.CoreV1().ConfigMaps("default").Delete(ctx, RootCAName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually(t, "the ConfigMap recreated", e.published("default"))

	cm, err := client.CoreV1().ConfigMaps("default").Get(ctx, RootCAName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{RootCAKey: "tampered", "extra": "x"}
	if _, err := client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually(t, "the ConfigMap repaired", e.published("default"))
}
