package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

var (
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// server is an API server with clients of the test's own, whose requests are not recorded.
type server struct {
	*controllertest.Cluster
	typed kubernetes.Interface
	meta  metadata.Interface
}

func newServer(t *testing.T, namespaces ...runtime.Object) *server {
	s := &server{Cluster: controllertest.NewCluster(t, namespaces...)}
	var err error
	if s.typed, err = kubernetes.NewForConfig(s.Config()); err != nil {
		t.Fatal(err)
	}
	if s.meta, err = metadata.NewForConfig(s.Config()); err != nil {
		t.Fatal(err)
	}
	return s
}

// add creates an object of gvr's kind in ns.
func (s *server) add(t *testing.T, gvr schema.GroupVersionResource, ns, name string, finalizers ...string) {
	t.Helper()
	om := metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers}
	labels := map[string]string{"app": name}
	template := v1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "nginx"}}},
	}
	var obj runtime.Object
	switch gvr {
	case pods:
		obj = &v1.Pod{ObjectMeta: om, Spec: template.Spec}
	case configmaps:
		obj = &v1.ConfigMap{ObjectMeta: om}
	case deployments:
		obj = &appsv1.Deployment{ObjectMeta: om, Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	default:
		t.Fatalf("no object for %v", gvr)
	}
	s.Create(t, obj)
}

func (s *server) exists(gvr schema.GroupVersionResource, ns, name string) bool {
	_, err := s.meta.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func (s *server) run(t *testing.T) {
	c := New(s.Client, s.Metadata, s.Factory, []schema.GroupVersionResource{pods, configmaps, deployments},
		slog.New(slog.DiscardHandler), Options{MinRetry: 5 * time.Millisecond, MaxRetry: 50 * time.Millisecond})
	s.Watch(t, s.Factory.Core().V1().Namespaces().Informer())
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(t, ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestEmptiesThenFinalizesNamespace(t *testing.T) {
	alive := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "alive"}, Spec: v1.NamespaceSpec{Finalizers: []v1.FinalizerName{v1.FinalizerKubernetes}}}
	s := newServer(t, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, alive)
	s.add(t, pods, "doomed", "web-1")
	s.add(t, pods, "doomed", "held", "example.com/hold")
	s.add(t, configmaps, "doomed", "settings")
	s.add(t, deployments, "doomed", "web")
	s.add(t, pods, "alive", "survivor")
	ctx := context.Background()
	if err := s.typed.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.run(t)

	// Everything without finalizers goes; the held pod waits, and the
	// namespace says so.
	s.Eventually(t, "the held pod reported", func() (bool, string) {
		ns, err := s.typed.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range ns.Status.Conditions {
			if c.Type == v1.NamespaceContentRemaining {
				return c.Message == "Some resources are remaining: pods. has 1 resource instances",
					fmt.Sprintf("condition %q", c.Message)
			}
		}
		return false, "no NamespaceContentRemaining condition"
	})
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{pods, "web-1"}, {configmaps, "settings"}, {deployments, "web"}} {
		if s.exists(o.gvr, "doomed", o.name) {
			t.Errorf("%s %s still exists", o.gvr.Resource, o.name)
		}
	}
	if _, err := s.typed.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace finalized while content remains: %v", err)
	}

	// The finalizer's owner lets go; the namespace is finalized and goes.
	if _, err := s.typed.CoreV1().Pods("doomed").Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Eventually(t, "the namespace finalized", func() (bool, string) {
		_, err := s.typed.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("namespace still there: %v", err)
	})
	if !s.exists(pods, "alive", "survivor") {
		t.Error("content of an active namespace was deleted")
	}
	if _, err := s.typed.CoreV1().Namespaces().Get(ctx, "alive", metav1.GetOptions{}); err != nil {
		t.Errorf("active namespace: %v", err)
	}
}
