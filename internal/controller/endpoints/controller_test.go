package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

// env is a Controller over an API server, with a wait that wakes on every Endpoints,
// EndpointSlice, Service and Pod event.
type env struct {
	cluster *controllertest.Cluster
	ctrl    *Controller
}

func newEnv(t *testing.T, run bool, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{cluster: controllertest.NewCluster(t, objs...)}
	e.ctrl = New(e.cluster.Client, e.cluster.Factory, slog.New(slog.DiscardHandler), Options{})
	e.cluster.Watch(t,
		e.cluster.Factory.Core().V1().Endpoints().Informer(),
		e.cluster.Factory.Discovery().V1().EndpointSlices().Informer(),
		e.cluster.Factory.Core().V1().Services().Informer(),
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		if run {
			<-done
		}
	})
	e.cluster.Start(t, ctx)
	if run {
		go func() {
			defer close(done)
			if err := e.ctrl.Run(ctx, 2); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}
	return e
}

// updatePod changes a pod in default as a user would.
func (e *env) updatePod(t *testing.T, name string, change func(*corev1.Pod)) {
	t.Helper()
	pods := e.cluster.Client.CoreV1().Pods("default")
	p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(p)
	if _, err := pods.Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// setPodStatus writes the status of a pod in default as the agent would.
func (e *env) setPodStatus(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	pods := e.cluster.Client.CoreV1().Pods("default")
	p, err := pods.Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = pod.Status
	if _, err := pods.UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deletePod deletes a pod in default with a grace period, as kubectl delete would; with 0,
// as the agent does when the pod's containers have stopped.
func (e *env) deletePod(t *testing.T, name string, grace int64) {
	t.Helper()
	if err := e.cluster.Client.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) endpoints(name string) (*corev1.Endpoints, error) {
	return e.ctrl.endpoints.Endpoints("default").Get(name)
}

func (e *env) slices(name string) []*discoveryv1.EndpointSlice {
	out, _ := e.cluster.Factory.Discovery().V1().EndpointSlices().Lister().EndpointSlices("default").List(
		labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	return out
}

// writes counts the create, update and delete requests for resource.
func (e *env) writes(resource string) int {
	n := 0
	for _, r := range e.cluster.Requests() {
		switch r.Verb {
		case "create", "update", "delete":
			if r.Resource == resource {
				n++
			}
		}
	}
	return n
}

func readyIPs(ep *corev1.Endpoints) (ready, notReady []string) {
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range ss.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
	}
	return ready, notReady
}

// endpointsAre returns a condition: the Endpoints hold exactly these ready and not-ready IPs.
func (e *env) endpointsAre(name, ready, notReady string) func() (bool, string) {
	return func() (bool, string) {
		ep, err := e.endpoints(name)
		if err != nil {
			return false, err.Error()
		}
		r, n := readyIPs(ep)
		got := fmt.Sprint(r) + " " + fmt.Sprint(n)
		return got == ready+" "+notReady, "endpoints ready, not ready: " + got
	}
}

func TestControllerWritesEndpointsAndSlices(t *testing.T) {
	svc := service("kubia").label("tier", "web").obj()
	e := newEnv(t, true, svc,
		pod("a", "127.0.1.1").obj(), pod("b", "127.0.1.2").notReady().obj(),
		pod("other", "127.0.1.9").labels("app", "other").obj())

	e.cluster.Eventually(t, "endpoints", e.endpointsAre("kubia", "[127.0.1.1]", "[127.0.1.2]"))
	ep, _ := e.endpoints("kubia")
	if ep.Labels["tier"] != "web" {
		t.Errorf("endpoints labels %v; want the Service's", ep.Labels)
	}
	if got := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; got != svc.CreationTimestamp.UTC().Format(time.RFC3339Nano) {
		t.Errorf("trigger time %q; want the Service's creation on the first sync", got)
	}
	a := ep.Subsets[0].Addresses[0]
	if a.TargetRef == nil || a.TargetRef.Name != "a" || a.TargetRef.Kind != "Pod" || a.NodeName == nil || *a.NodeName != "node-1" {
		t.Errorf("address %+v; want targetRef pod a and nodeName node-1", a)
	}

	e.cluster.Eventually(t, "one slice", func() (bool, string) {
		ss := e.slices("kubia")
		return len(ss) == 1 && len(ss[0].Endpoints) == 2, fmt.Sprintf("%d slices", len(ss))
	})
	s := e.slices("kubia")[0]
	if s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels["tier"] != "web" {
		t.Errorf("slice labels %v", s.Labels)
	}
	if ref := metav1.GetControllerOf(s); ref == nil || ref.UID != svc.UID || ref.Kind != "Service" {
		t.Errorf("slice controller %v; want the Service", ref)
	}
	if len(s.Name) <= len("kubia-") || s.Name[:6] != "kubia-" {
		t.Errorf("slice name %q; want generated from kubia-", s.Name)
	}
}

func TestControllerDropsTerminatingPodAtOnce(t *testing.T) {
	e := newEnv(t, true, service("kubia").obj(), pod("a", "127.0.1.1").obj(), pod("b", "127.0.1.2").obj())
	e.cluster.Eventually(t, "both pods ready", e.endpointsAre("kubia", "[127.0.1.1 127.0.1.2]", "[]"))

	// Deleted with a grace period: still Ready, but terminating.
	e.deletePod(t, "b", 30)
	e.cluster.Eventually(t, "b gone from endpoints", e.endpointsAre("kubia", "[127.0.1.1]", "[]"))
	e.cluster.Eventually(t, "b terminating in its slice", func() (bool, string) {
		for _, s := range e.slices("kubia") {
			for _, ep := range s.Endpoints {
				if ep.Addresses[0] == "127.0.1.2" {
					c := ep.Conditions
					return !*c.Ready && *c.Serving && *c.Terminating, fmt.Sprintf("ready=%v serving=%v terminating=%v", *c.Ready, *c.Serving, *c.Terminating)
				}
			}
		}
		return false, "b not in any slice"
	})

	// The agent turns it unready, then the pod goes.
	e.setPodStatus(t, pod("b", "127.0.1.2").notReady().obj())
	e.deletePod(t, "b", 0)
	e.cluster.Eventually(t, "b gone from slices", func() (bool, string) {
		ss := e.slices("kubia")
		return len(ss) == 1 && len(ss[0].Endpoints) == 1, fmt.Sprintf("%d slices", len(ss))
	})
}

func TestControllerFollowsSelectorAndLabels(t *testing.T) {
	e := newEnv(t, true, service("kubia").obj(),
		pod("v1", "127.0.1.1").labels("app", "kubia", "version", "v1").obj(),
		pod("v2", "127.0.1.2").labels("app", "kubia", "version", "v2").obj())
	e.cluster.Eventually(t, "both versions", e.endpointsAre("kubia", "[127.0.1.1 127.0.1.2]", "[]"))

	// Blue-green: `kubectl set selector service kubia app=kubia,version=v2`.
	svc, err := e.cluster.Client.CoreV1().Services("default").Get(context.Background(), "kubia", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector = map[string]string{"app": "kubia", "version": "v2"}
	if _, err := e.cluster.Client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cluster.Eventually(t, "v2 only", e.endpointsAre("kubia", "[127.0.1.2]", "[]"))

	// Relabelling a pod out of the selector takes it out.
	e.updatePod(t, "v2", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "kubia", "version": "debug"} })
	e.cluster.Eventually(t, "no pods", e.endpointsAre("kubia", "[]", "[]"))
	e.cluster.Eventually(t, "an empty placeholder slice", func() (bool, string) {
		ss := e.slices("kubia")
		return len(ss) == 1 && len(ss[0].Endpoints) == 0, fmt.Sprintf("%d slices", len(ss))
	})
}

func TestControllerWritesNothingWhenNothingChanged(t *testing.T) {
	e := newEnv(t, false, service("kubia").obj(), pod("a", "127.0.1.1").obj())
	ctx := context.Background()
	syncSettled := func() {
		t.Helper()
		e.cluster.Eventually(t, "a sync that finds the cache current", func() (bool, string) {
			err := e.ctrl.sync(ctx, "default/kubia")
			return err == nil, fmt.Sprint(err)
		})
	}
	syncSettled()
	e.cluster.Eventually(t, "endpoints cached", e.endpointsAre("kubia", "[127.0.1.1]", "[]"))
	e.cluster.Eventually(t, "slice cached", func() (bool, string) { return len(e.slices("kubia")) == 1, "no slice" })
	epWrites, sliceWrites := e.writes("endpoints"), e.writes("endpointslices")
	if epWrites != 1 || sliceWrites != 1 {
		t.Fatalf("first sync: %d endpoints and %d slice writes; want one create each", epWrites, sliceWrites)
	}

	for range 3 {
		if err := e.ctrl.sync(ctx, "default/kubia"); err != nil {
			t.Fatal(err)
		}
	}
	// An annotation change on the pod changes no endpoint either.
	e.updatePod(t, "a", func(p *corev1.Pod) { p.Annotations = map[string]string{"note": "x"} })
	e.cluster.Eventually(t, "pod change cached", func() (bool, string) {
		got, _ := e.ctrl.pods.Pods("default").Get("a")
		return got != nil && got.Annotations["note"] == "x", "old pod"
	})
	if err := e.ctrl.sync(ctx, "default/kubia"); err != nil {
		t.Fatal(err)
	}
	if e.writes("endpoints") != epWrites || e.writes("endpointslices") != sliceWrites {
		t.Errorf("syncs with nothing changed wrote: endpoints %d→%d, slices %d→%d", epWrites, e.writes("endpoints"), sliceWrites, e.writes("endpointslices"))
	}
}

func TestControllerLeavesSelectorlessServicesAlone(t *testing.T) {
	userEP := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "default", ResourceVersion: "5"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "127.0.5.1"}},
			Ports:     []corev1.EndpointPort{{Port: 9000, Protocol: corev1.ProtocolTCP}},
		}},
	}
	e := newEnv(t, true, service("external").noSelector().obj(), userEP, pod("a", "127.0.1.1").labels("app", "external").obj())

	e.cluster.Eventually(t, "a mirrored slice", func() (bool, string) {
		ss := e.slices("external")
		if len(ss) != 1 {
			return false, fmt.Sprintf("%d slices", len(ss))
		}
		s := ss[0]
		ok := s.Labels[discoveryv1.LabelManagedBy] == MirrorManagedBy && len(s.Endpoints) == 1 &&
			s.Endpoints[0].Addresses[0] == "127.0.5.1" && len(s.Ports) == 1 && *s.Ports[0].Port == 9000
		return ok, fmt.Sprintf("slice %+v", s)
	})
	if n := e.writes("endpoints"); n != 0 {
		t.Errorf("the controller wrote a selectorless Service's Endpoints %d times", n)
	}
	ep, _ := e.endpoints("external")
	if r, _ := readyIPs(ep); fmt.Sprint(r) != "[127.0.5.1]" {
		t.Errorf("user Endpoints changed to %v", r)
	}

	// The user changes the Endpoints: the mirror follows.
	ep = ep.DeepCopy()
	ep.Subsets[0].Addresses[0].IP = "127.0.5.2"
	if _, err := e.cluster.Client.CoreV1().Endpoints("default").Update(context.Background(), ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cluster.Eventually(t, "the mirror updated", func() (bool, string) {
		ss := e.slices("external")
		return len(ss) == 1 && len(ss[0].Endpoints) == 1 && ss[0].Endpoints[0].Addresses[0] == "127.0.5.2", fmt.Sprint(ss)
	})
}

func TestControllerCleansUpDeletedService(t *testing.T) {
	e := newEnv(t, true, service("kubia").obj(), pod("a", "127.0.1.1").obj())
	e.cluster.Eventually(t, "endpoints", e.endpointsAre("kubia", "[127.0.1.1]", "[]"))
	e.cluster.Eventually(t, "slice", func() (bool, string) { return len(e.slices("kubia")) == 1, "no slice" })

	if err := e.cluster.Client.CoreV1().Services("default").Delete(context.Background(), "kubia", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cluster.Eventually(t, "endpoints and slices gone", func() (bool, string) {
		_, err := e.endpoints("kubia")
		n := len(e.slices("kubia"))
		return apierrors.IsNotFound(err) && n == 0, fmt.Sprintf("endpoints err %v, %d slices", err, n)
	})
}

func TestControllerRecreatesDeletedEndpoints(t *testing.T) {
	e := newEnv(t, true, service("kubia").obj(), pod("a", "127.0.1.1").obj())
	e.cluster.Eventually(t, "endpoints", e.endpointsAre("kubia", "[127.0.1.1]", "[]"))
	if err := e.cluster.Client.CoreV1().Endpoints("default").Delete(context.Background(), "kubia", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cluster.Eventually(t, "endpoints back", func() (bool, string) {
		return e.writes("endpoints") >= 3, fmt.Sprintf("%d endpoints writes", e.writes("endpoints"))
	})
	e.cluster.Eventually(t, "endpoints content", e.endpointsAre("kubia", "[127.0.1.1]", "[]"))
}

func TestControllerIgnoresExternalName(t *testing.T) {
	ext := service("db").obj()
	ext.Spec.Type = corev1.ServiceTypeExternalName
	ext.Spec.ExternalName = "db.example.com"
	ext.Spec.ClusterIP = ""
	e := newEnv(t, true, ext, service("kubia").obj(), pod("a", "127.0.1.1").labels("app", "db").obj())
	// kubia is synced after db by the same workers; once it has endpoints, db has been synced.
	e.cluster.Eventually(t, "kubia synced", e.endpointsAre("kubia", "[]", "[]"))
	e.cluster.Eventually(t, "queue drained", func() (bool, string) { return e.ctrl.loop.Len() == 0, "queue not empty" })
	if _, err := e.endpoints("db"); !apierrors.IsNotFound(err) {
		t.Errorf("an ExternalName Service got Endpoints (err %v)", err)
	}
	for _, r := range e.cluster.Requests() {
		if m, err := meta.Accessor(r.Object); r.Verb == "create" && err == nil && m.GetGenerateName() == "db-" {
			t.Errorf("an ExternalName Service got a slice")
		}
	}
}
