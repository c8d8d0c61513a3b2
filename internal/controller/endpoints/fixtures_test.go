package endpoints

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// expectEqual fails the test with a diff unless want and got are semantically equal (nil and
// empty slices alike).
func expectEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(want, got) {
		t.Errorf("%s differ (- want, + got):\n%s", what, diff.Diff(want, got))
	}
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// svcBuilder builds a Service for tests.
type svcBuilder struct{ s *corev1.Service }

func service(name string) svcBuilder {
	return svcBuilder{&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0)},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: "127.2.0.10",
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}}
}

func (b svcBuilder) ports(ps ...corev1.ServicePort) svcBuilder {
	b.s.Spec.Ports = ps
	return b
}
func (b svcBuilder) headless() svcBuilder    { b.s.Spec.ClusterIP = corev1.ClusterIPNone; return b }
func (b svcBuilder) publishAll() svcBuilder  { b.s.Spec.PublishNotReadyAddresses = true; return b }
func (b svcBuilder) noSelector() svcBuilder  { b.s.Spec.Selector = nil; return b }
func (b svcBuilder) uid(u string) svcBuilder { b.s.UID = types.UID(u); return b }
func (b svcBuilder) obj() *corev1.Service    { return b.s }
func (b svcBuilder) label(k, v string) svcBuilder {
	if b.s.Labels == nil {
		b.s.Labels = map[string]string{}
	}
	b.s.Labels[k] = v
	return b
}

// podBuilder builds a running pod for tests.
type podBuilder struct{ p *corev1.Pod }

func pod(name, ip string) podBuilder {
	return podBuilder{&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "kubia"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "luksa/kubia",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}},
	}}
}

func (b podBuilder) notReady() podBuilder {
	b.p.Status.Conditions[0].Status = corev1.ConditionFalse
	return b
}
func (b podBuilder) readyAt(at time.Time) podBuilder {
	b.p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(at)
	return b
}
func (b podBuilder) terminating() podBuilder {
	b.p.DeletionTimestamp = &metav1.Time{Time: t0.Add(30 * time.Second)}
	b.p.DeletionGracePeriodSeconds = new(int64(30))
	return b
}
func (b podBuilder) phase(p corev1.PodPhase) podBuilder { b.p.Status.Phase = p; return b }
func (b podBuilder) noIP() podBuilder {
	b.p.Status.PodIP, b.p.Status.PodIPs = "", nil
	return b
}
func (b podBuilder) containerPort(name string, port int32) podBuilder {
	b.p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}}
	return b
}
func (b podBuilder) hostname(host, subdomain string) podBuilder {
	b.p.Spec.Hostname, b.p.Spec.Subdomain = host, subdomain
	return b
}
func (b podBuilder) labels(kv ...string) podBuilder {
	b.p.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		b.p.Labels[kv[i]] = kv[i+1]
	}
	return b
}
func (b podBuilder) obj() *corev1.Pod { return b.p }

func pods(bs ...podBuilder) []*corev1.Pod {
	out := make([]*corev1.Pod, len(bs))
	for i, b := range bs {
		out[i] = b.obj()
	}
	return out
}

// addr is the Endpoints address tests expect for a pod built by pod().
func addr(name, ip string) corev1.EndpointAddress {
	return corev1.EndpointAddress{IP: ip, NodeName: new("node-1"),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}
}

func port(name string, num int32) corev1.EndpointPort {
	return corev1.EndpointPort{Name: name, Port: num, Protocol: corev1.ProtocolTCP}
}
