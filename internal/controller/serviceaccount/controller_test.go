package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

const caPEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

func namespace(name string, phase v1.NamespacePhase) *v1.Namespace {
	return &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1.NamespaceStatus{Phase: phase}}
}

// run runs a controller over a fake clientset holding objs; the waits of changes wake on the
// events of the namespaces, ServiceAccounts and ConfigMaps.
func run(t *testing.T, objs ...runtime.Object) (*fake.Clientset, *controllertest.Changes) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, []byte(caPEM), slog.New(slog.DiscardHandler), Options{})
	changes := controllertest.NewChanges()
	core := factory.Core().V1()
	changes.Watch(t, core.Namespaces().Informer(), core.ServiceAccounts().Informer(), core.ConfigMaps().Informer())
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return client, changes
}

// published reports whether ns has the default ServiceAccount and a correct root CA ConfigMap.
func published(client *fake.Clientset, ns string) func() (bool, string) {
	return func() (bool, string) {
		ctx := context.Background()
		if _, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, DefaultName, metav1.GetOptions{}); err != nil {
			return false, fmt.Sprintf("serviceaccount in %s: %v", ns, err)
		}
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, RootCAName, metav1.GetOptions{})
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
	client, changes := run(t, namespace("default", v1.NamespaceActive), namespace("kube-system", v1.NamespaceActive),
		namespace("going", v1.NamespaceTerminating))
	changes.Eventually(t, "published in default", published(client, "default"))
	changes.Eventually(t, "published in kube-system", published(client, "kube-system"))

	if _, err := client.CoreV1().Namespaces().Create(context.Background(), namespace("new", v1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	changes.Eventually(t, "published in the new namespace", published(client, "new"))

	// Creates into a terminating namespace would be refused; none is tried.
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" && a.GetNamespace() == "going" {
			t.Errorf("created %s in a terminating namespace", a.GetResource().Resource)
		}
	}
}

func TestRecreatesAndRepairs(t *testing.T) {
	client, changes := run(t, namespace("default", v1.NamespaceActive))
	changes.Eventually(t, "published", published(client, "default"))
	ctx := context.Background()

	if err := client.CoreV1().ServiceAccounts("default").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	changes.Eventually(t, "the ServiceAccount recreated", published(client, "default"))

	if err := client.CoreV1().ConfigMaps("default").Delete(ctx, RootCAName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	changes.Eventually(t, "the ConfigMap recreated", published(client, "default"))

	cm, err := client.CoreV1().ConfigMaps("default").Get(ctx, RootCAName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{RootCAKey: "tampered", "extra": "x"}
	if _, err := client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	changes.Eventually(t, "the ConfigMap repaired", published(client, "default"))
}
