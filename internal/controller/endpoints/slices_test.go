package endpoints

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestPodEndpointConditions(t *testing.T) {
	tests := []struct {
		name                        string
		svc                         *corev1.Service
		pod                         *corev1.Pod
		ready, serving, terminating bool
	}{
		{name: "ready pod", svc: service("kubia").obj(), pod: pod("a", "127.0.1.1").obj(), ready: true, serving: true},
		{name: "unready pod", svc: service("kubia").obj(), pod: pod("a", "127.0.1.1").notReady().obj()},
		{name: "terminating pod still Ready: not ready, serving, terminating", svc: service("kubia").obj(),
			pod: pod("a", "127.0.1.1").terminating().obj(), serving: true, terminating: true},
		{name: "terminating pod turned unready", svc: service("kubia").obj(),
			pod: pod("a", "127.0.1.1").terminating().notReady().obj(), terminating: true},
		{name: "publishNotReadyAddresses: always ready", svc: service("kubia").publishAll().obj(),
			pod: pod("a", "127.0.1.1").terminating().notReady().obj(), ready: true, terminating: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := podEndpoint(tt.pod, tt.svc)
			c := e.Conditions
			if *c.Ready != tt.ready || *c.Serving != tt.serving || *c.Terminating != tt.terminating {
				t.Errorf("conditions ready=%v serving=%v terminating=%v; want %v %v %v", *c.Ready, *c.Serving, *c.Terminating, tt.ready, tt.serving, tt.terminating)
			}
			if e.TargetRef == nil || e.TargetRef.Name != "a" || e.NodeName == nil || *e.NodeName != "node-1" {
				t.Errorf("targetRef %v nodeName %v; want pod a on node-1", e.TargetRef, e.NodeName)
			}
		})
	}
}

func TestPodGroups(t *testing.T) {
	svc := service("kubia").ports(corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}).obj()
	groups := podGroups(svc, pods(
		pod("a", "127.0.1.1"),
		pod("b", "127.0.1.2").containerPort("http", 9090),
		pod("c", "127.0.1.3").terminating(), // kept in slices, unlike Endpoints
		pod("d", "127.0.1.4").noIP(),
	))
	got := map[string][]string{}
	for _, g := range groups {
		for _, e := range g.endpoints {
			got[slicePortsKey(g.ports)] = append(got[slicePortsKey(g.ports)], e.Addresses[0])
		}
	}
	want := map[string][]string{
		"http/TCP/8080/;": {"127.0.1.1", "127.0.1.3"},
		"http/TCP/9090/;": {"127.0.1.2"},
	}
	expectEqual(t, "endpoints by ports", want, got)
}

// existingSlice is a slice as the API would return it for svc, named name, holding pods.
func existingSlice(svc *corev1.Service, name string, ps []*corev1.Pod) *discoveryv1.EndpointSlice {
	groups := podGroups(svc, ps)
	s := newSlice(sliceSpec{svc: svc}, sliceLabels(svc, ManagedBy), podSlicePorts(svc, pod("x", "127.0.0.9").obj()), nil)
	for _, g := range groups {
		s.Endpoints = append(s.Endpoints, g.endpoints...)
	}
	s.Name = name
	s.ResourceVersion = "7"
	return s
}

// planSummary renders a plan for comparison: "create [ips]", "update name [ips]", "delete name".
func planSummary(p slicePlan) []string {
	ips := func(s *discoveryv1.EndpointSlice) string {
		var out []string
		for _, e := range s.Endpoints {
			out = append(out, e.Addresses[0])
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	var out []string
	for _, s := range p.create {
		out = append(out, "create "+ips(s))
	}
	for _, s := range p.update {
		out = append(out, "update "+s.Name+" "+ips(s))
	}
	for _, s := range p.delete {
		out = append(out, "delete "+s.Name)
	}
	return out
}

func manyPods(n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("127.0.%d.%d", 1+i/200, 1+i%200)).obj())
	}
	return out
}

func TestPlanSlices(t *testing.T) {
	svc := service("kubia").obj()
	a, b, c := pod("a", "127.0.1.1"), pod("b", "127.0.1.2"), pod("c", "127.0.1.3")
	oldSvc := service("kubia").uid("uid-old").obj()
	relabelled := service("kubia").label("tier", "web").obj()
	otherPorts := service("kubia").ports(corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9090), Protocol: corev1.ProtocolTCP}).obj()
	placeholder := existingSlice(svc, "kubia-p", nil)
	placeholder.Ports = nil

	tests := []struct {
		name     string
		svc      *corev1.Service
		pods     []*corev1.Pod
		existing []*discoveryv1.EndpointSlice
		max      int
		want     []string
	}{
		{name: "first sync creates one slice", svc: svc, pods: pods(b, a),
			want: []string{"create [127.0.1.1 127.0.1.2]"}},
		{name: "nothing changed: no writes", svc: svc, pods: pods(a, b),
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(b, a))}},
		{name: "a pod turning unready updates its slice", svc: svc, pods: pods(a, pod("b", "127.0.1.2").notReady()),
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a, b))},
			want:     []string{"update kubia-1 [127.0.1.1 127.0.1.2]"}},
		{name: "a replaced pod is swapped in the same slice, in one write", svc: svc, pods: pods(a, c),
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a, b))},
			want:     []string{"update kubia-1 [127.0.1.1 127.0.1.3]"}},
		{name: "endpoints stay where they are; new ones fill the slice with room", svc: svc, pods: pods(a, b, c), max: 2,
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a)), existingSlice(svc, "kubia-2", pods(b, pod("z", "127.0.9.9")))},
			want:     []string{"update kubia-1 [127.0.1.1 127.0.1.3]", "update kubia-2 [127.0.1.2]"}},
		{name: "250 pods at 100 per slice make three slices", svc: svc, pods: manyPods(250),
			want: []string{"create", "create", "create"}},
		{name: "a slice left empty is deleted", svc: svc, pods: pods(a),
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a)), existingSlice(svc, "kubia-2", pods(b))},
			want:     []string{"delete kubia-2"}},
		{name: "no pods: an empty placeholder slice", svc: svc,
			want: []string{"create []"}},
		{name: "no pods: the last slice becomes the placeholder", svc: svc,
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a)), existingSlice(svc, "kubia-2", pods(b))},
			want:     []string{"update kubia-1 []", "delete kubia-2"}},
		{name: "the placeholder is left alone", svc: svc,
			existing: []*discoveryv1.EndpointSlice{placeholder}},
		{name: "slices of an older Service of the same name are deleted", svc: svc, pods: pods(a),
			existing: []*discoveryv1.EndpointSlice{existingSlice(oldSvc, "kubia-old", pods(a))},
			want:     []string{"create [127.0.1.1]", "delete kubia-old"}},
		{name: "changed target port: a new slice, the old one deleted", svc: otherPorts, pods: pods(a),
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a))},
			want:     []string{"create [127.0.1.1]", "delete kubia-1"}},
		{name: "changed Service labels are copied", svc: relabelled, pods: pods(a),
			existing: []*discoveryv1.EndpointSlice{existingSlice(svc, "kubia-1", pods(a))},
			want:     []string{"update kubia-1 [127.0.1.1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := planSlices(sliceSpec{svc: tt.svc, managedBy: ManagedBy, max: tt.max, placeholder: true}, podGroups(tt.svc, tt.pods), tt.existing)
			got := planSummary(plan)
			if len(tt.want) > 0 && tt.want[0] == "create" { // only counts matter
				for i := range got {
					got[i] = strings.Fields(got[i])[0]
				}
			}
			expectEqual(t, "plan", tt.want, got)
			for _, s := range append(plan.create, plan.update...) {
				if s.Labels[discoveryv1.LabelServiceName] != "kubia" || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
					t.Errorf("slice labels %v lack the service name or manager", s.Labels)
				}
				if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != tt.svc.UID || s.OwnerReferences[0].Controller == nil || !*s.OwnerReferences[0].Controller {
					t.Errorf("slice owner references %v; want the Service as controller", s.OwnerReferences)
				}
				if n := len(s.Endpoints); n > 100 {
					t.Errorf("slice holds %d endpoints, more than 100", n)
				}
			}
			for _, s := range plan.create {
				if s.GenerateName != "kubia-" || s.AddressType != discoveryv1.AddressTypeIPv4 {
					t.Errorf("new slice generateName %q addressType %q", s.GenerateName, s.AddressType)
				}
			}
		})
	}
}

func TestPlanSlicesTriggerTime(t *testing.T) {
	svc := service("kubia").obj()
	at := t0.Add(1500 * time.Millisecond)
	plan := planSlices(sliceSpec{svc: svc, managedBy: ManagedBy, placeholder: true, trigger: at}, podGroups(svc, pods(pod("a", "127.0.1.1"))), nil)
	if got := plan.create[0].Annotations[corev1.EndpointsLastChangeTriggerTime]; got != "2024-05-01T12:00:01.5Z" {
		t.Errorf("trigger annotation %q", got)
	}
}

func TestEndpointsGroups(t *testing.T) {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "127.0.5.1"}, {IP: "::1"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "127.0.5.2"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 80}},
		}},
	}
	groups := endpointsGroups(ep)
	if len(groups) != 1 || len(groups[0].endpoints) != 2 {
		t.Fatalf("groups %+v; want one group of two IPv4 endpoints", groups)
	}
	e1, e2 := groups[0].endpoints[0], groups[0].endpoints[1]
	if e1.Addresses[0] != "127.0.5.1" || !*e1.Conditions.Ready || e2.Addresses[0] != "127.0.5.2" || *e2.Conditions.Ready {
		t.Errorf("endpoints %+v %+v; want 127.0.5.1 ready, 127.0.5.2 not", e1, e2)
	}
	if p := groups[0].ports[0]; *p.Name != "http" || *p.Port != 80 || *p.Protocol != corev1.ProtocolTCP {
		t.Errorf("port %+v; want http 80 TCP", p)
	}
}
