package registry

import (
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func resourceOf(t *testing.T, group, resource string) *Resource {
	t.Helper()
	for _, r := range All() {
		if r.GVR.GroupResource() == (schema.GroupResource{Group: group, Resource: resource}) {
			return r
		}
	}
	t.Fatalf("%s/%s is not served", group, resource)
	return nil
}

func TestAdmissionRolesBelongToOneKindEach(t *testing.T) {
	var namespaces, quotas []string
	for _, r := range All() {
		if r.Terminating != nil {
			namespaces = append(namespaces, r.GVR.Resource)
		}
		if r.Charge != nil {
			quotas = append(quotas, r.GVR.Resource)
		}
	}
	if len(namespaces) != 1 || namespaces[0] != "namespaces" {
		t.Errorf("namespace lifecycle kinds = %v, want [namespaces]", namespaces)
	}
	if len(quotas) != 1 || quotas[0] != "resourcequotas" {
		t.Errorf("quota kinds = %v, want [resourcequotas]", quotas)
	}
	for _, res := range []string{"events", "resourcequotas"} {
		if !resourceOf(t, "", res).NoQuota {
			t.Errorf("%s are charged to quota; upstream does not", res)
		}
	}
	if resourceOf(t, "", "pods").NoQuota {
		t.Errorf("pods are not charged to quota")
	}
}

func TestErasedHooksIgnoreOtherTypes(t *testing.T) {
	pods, ns := resourceOf(t, "", "pods"), resourceOf(t, "", "namespaces")
	if g, ok := pods.GracePeriod(&corev1.Node{}, &metav1.DeleteOptions{}); g != 0 || ok {
		t.Errorf("pod grace period of a node = %d, %v", g, ok)
	}
	if ns.HoldsDeletion(&corev1.Pod{}) || ns.Terminating(&corev1.Pod{}) {
		t.Errorf("the namespace hooks judged a pod")
	}
}

func TestPodGracePeriod(t *testing.T) {
	grace := func(n int64) *int64 { return &n }
	tests := []struct {
		name         string
		pod          corev1.Pod
		opts         metav1.DeleteOptions
		want         int64
		wantGraceful bool
	}{
		{name: "a pod on a node waits the default 30 s", pod: corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}, want: 30, wantGraceful: true},
		{name: "the pod's own grace period", pod: corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: grace(5)}}, want: 5, wantGraceful: true},
		{name: "the request's grace period wins", pod: corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: grace(5)}}, opts: metav1.DeleteOptions{GracePeriodSeconds: grace(2)}, want: 2, wantGraceful: true},
		{name: "grace 0 goes at once", pod: corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}, opts: metav1.DeleteOptions{GracePeriodSeconds: grace(0)}},
		{name: "an unscheduled pod goes at once", pod: corev1.Pod{}},
		{name: "a finished pod goes at once", pod: corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, graceful := podGracePeriod(&tt.pod, &tt.opts)
			if got != tt.want || graceful != tt.wantGraceful {
				t.Errorf("grace = %d, %v; want %d, %v", got, graceful, tt.want, tt.wantGraceful)
			}
		})
	}
}

func TestBindingAction(t *testing.T) {
	bind := resourceOf(t, "", "pods").Actions["binding"]
	if bind.Verb != "create" || !bind.ReplyStatus {
		t.Fatalf("binding action = %+v", bind)
	}
	apply := func(pod *corev1.Pod, target string) error {
		req := bind.New().(*corev1.Binding)
		req.Target.Name = target
		req.Annotations = map[string]string{"a": "b"}
		return bind.Apply(pod, req)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	if err := apply(pod, "n1"); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != "n1" || pod.Annotations["a"] != "b" || len(pod.Status.Conditions) != 1 || pod.Status.Conditions[0].Type != corev1.PodScheduled {
		t.Errorf("bound pod = %+v", pod)
	}
	if err := apply(pod, "n2"); !apierrors.IsConflict(err) {
		t.Errorf("binding a bound pod: %v, want a conflict", err)
	}
	if err := apply(&corev1.Pod{}, ""); !apierrors.IsInvalid(err) {
		t.Errorf("binding to no node: %v, want invalid", err)
	}
}

func TestNamespaceDeleteStrategy(t *testing.T) {
	r := resourceOf(t, "", "namespaces")
	ns := &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}
	if !r.HoldsDeletion(ns) {
		t.Errorf("a namespace with spec finalizers is not held")
	}
	r.MarkDeleting(ns)
	if ns.Status.Phase != corev1.NamespaceTerminating || !r.Terminating(ns) {
		t.Errorf("a namespace marked for deletion is %q", ns.Status.Phase)
	}
	fin := r.Actions["finalize"]
	if err := fin.Apply(ns, &corev1.Namespace{}); err != nil || r.HoldsDeletion(ns) {
		t.Errorf("finalize with no finalizers: %v, still held %v", err, r.HoldsDeletion(ns))
	}
}

func TestServiceAllocation(t *testing.T) {
	r := resourceOf(t, "", "services")
	pools := Pools{NodePortMin: 30000, NodePortMax: 30001}
	_, pools.ServiceCIDR = mustCIDR(t, "10.0.0.0/30")
	var taken Claims
	taken.Add(Claims{IPs: map[string]bool{"10.0.0.1": true}, Ports: map[int32]bool{30000: true}})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	if err := r.Allocate(svc, nil, taken, pools); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.0.0.2" || svc.Spec.Ports[0].NodePort != 30001 {
		t.Errorf("allocated %s and %d, want the free 10.0.0.2 and 30001", svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
	}
	if c := r.Claims(svc); !c.IPs["10.0.0.2"] || !c.Ports[30001] {
		t.Errorf("claims = %+v", c)
	}
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.1"}}
	if err := r.Allocate(other, nil, taken, pools); !apierrors.IsInvalid(err) {
		t.Errorf("a taken ClusterIP: %v, want invalid", err)
	}
}

func mustCIDR(t *testing.T, s string) (net.IP, *net.IPNet) {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return ip, n
}
