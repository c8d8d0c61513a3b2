package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

var (
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// fakeServer pairs a typed client (namespaces) and a metadata client (content)
// that delete as the API server does: objects with finalizers only get a
// deletionTimestamp, and a finalized namespace goes away.
type fakeServer struct {
	typed   *fake.Clientset
	meta    *metafake.FakeMetadataClient
	changes *controllertest.Changes // namespace events
}

func newFakeServer(t *testing.T, namespaces ...runtime.Object) *fakeServer {
	scheme := metafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{typed: fake.NewClientset(namespaces...), meta: metafake.NewSimpleMetadataClient(scheme),
		changes: controllertest.NewChanges()}

	nsGVR := v1.SchemeGroupVersion.WithResource("namespaces")
	// The fake sends namespaces/finalize as a create.
	s.typed.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "finalize" {
			return false, nil, nil
		}
		ns := a.(k8stesting.CreateAction).GetObject().(*v1.Namespace)
		if len(ns.Spec.Finalizers) == 0 && ns.DeletionTimestamp != nil {
			return true, ns, s.typed.Tracker().Delete(nsGVR, "", ns.Name)
		}
		return true, ns, s.typed.Tracker().Update(nsGVR, ns, "")
	})

	tracker := s.meta.Tracker()
	deleteOne := func(gvr schema.GroupVersionResource, ns, name string) error {
		obj, err := tracker.Get(gvr, ns, name)
		if err != nil {
			return err
		}
		m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
		if len(m.Finalizers) == 0 {
			return tracker.Delete(gvr, ns, name)
		}
		if m.DeletionTimestamp == nil {
			m.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}
		return tracker.Update(gvr, m, ns)
	}
	s.meta.PrependReactor("delete-collection", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		list, err := tracker.List(a.GetResource(), schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return true, nil, err
		}
		for _, it := range items {
			m, _ := meta.Accessor(it)
			if err := deleteOne(a.GetResource(), a.GetNamespace(), m.GetName()); err != nil && !apierrors.IsNotFound(err) {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	return s
}

func (s *fakeServer) add(t *testing.T, gvr schema.GroupVersionResource, ns, name string, finalizers ...string) {
	t.Helper()
	m := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: gvr.GroupVersion().String(), Kind: "Thing"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers},
	}
	if err := s.meta.Tracker().Create(gvr, m, ns); err != nil {
		t.Fatal(err)
	}
}

func (s *fakeServer) exists(gvr schema.GroupVersionResource, ns, name string) bool {
	_, err := s.meta.Tracker().Get(gvr, ns, name)
	return err == nil
}

func (s *fakeServer) run(t *testing.T) {
	factory := informers.NewSharedInformerFactory(s.typed, 0)
	c := New(s.typed, s.meta, factory, []schema.GroupVersionResource{pods, configmaps, deployments},
		slog.New(slog.DiscardHandler), Options{MinRetry: 5 * time.Millisecond, MaxRetry: 50 * time.Millisecond})
	s.changes.Watch(t, factory.Core().V1().Namespaces().Informer())
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
}

func terminating(name string) *v1.Namespace {
	return &v1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, DeletionTimestamp: &metav1.Time{Time: time.Now()}},
		Spec:       v1.NamespaceSpec{Finalizers: []v1.FinalizerName{v1.FinalizerKubernetes}},
		Status:     v1.NamespaceStatus{Phase: v1.NamespaceTerminating},
	}
}

func TestEmptiesThenFinalizesNamespace(t *testing.T) {
	alive := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "alive"}, Spec: v1.NamespaceSpec{Finalizers: []v1.FinalizerName{v1.FinalizerKubernetes}}}
	s := newFakeServer(t, terminating("doomed"), alive)
	s.add(t, pods, "doomed", "web-1")
	s.add(t, pods, "doomed", "held", "example.com/hold")
	s.add(t, configmaps, "doomed", "settings")
	s.add(t, deployments, "doomed", "web")
	s.add(t, pods, "alive", "survivor")
	s.run(t)
	ctx := context.Background()

	// Everything without finalizers goes; the held pod waits, and the
	// namespace says so.
	s.changes.Eventually(t, "the held pod reported", func() (bool, string) {
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
	if err := s.meta.Tracker().Delete(pods, "doomed", "held"); err != nil {
		t.Fatal(err)
	}
	s.changes.Eventually(t, "the namespace finalized", func() (bool, string) {
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
