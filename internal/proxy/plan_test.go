package proxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testService(typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP, NodePort: 30123}}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubia"},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "127.2.0.10", ClusterIPs: []string{"127.2.0.10"},
			Selector: map[string]string{"app": "kubia"}, Ports: ports},
	}
}

// slice builds an EndpointSlice for kubia with one port and the given endpoints; an address
// prefixed with "!" is not ready, with "?" has no ready condition.
func slice(portName string, proto corev1.Protocol, port int32, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("kubia-%d", port), Labels: map[string]string{discoveryv1.LabelServiceName: "kubia"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Protocol: &proto, Port: &port}},
	}
	for _, a := range addrs {
		e := discoveryv1.Endpoint{}
		switch a[0] {
		case '!':
			e.Conditions.Ready = new(false)
			a = a[1:]
		case '?':
			a = a[1:]
		default:
			e.Conditions.Ready = new(true)
		}
		e.Addresses = []string{a}
		s.Endpoints = append(s.Endpoints, e)
	}
	return s
}

func TestPlanService(t *testing.T) {
	node := netip.MustParseAddr("127.0.0.1")
	lb := testService(corev1.ServiceTypeLoadBalancer)
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "127.0.0.1"}}
	lbElsewhere := testService(corev1.ServiceTypeLoadBalancer)
	lbElsewhere.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "127.0.0.2"}}
	headless := testService(corev1.ServiceTypeClusterIP)
	headless.Spec.ClusterIP, headless.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	external := testService(corev1.ServiceTypeExternalName)
	withExternalIP := testService(corev1.ServiceTypeClusterIP)
	withExternalIP.Spec.ExternalIPs = []string{"127.9.0.1"}
	affinity := testService(corev1.ServiceTypeClusterIP)
	affinity.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	affinityTimeout := affinity.DeepCopy()
	affinityTimeout.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(60))}}

	tests := []struct {
		name     string
		svc      *corev1.Service
		want     string
		affinity time.Duration
	}{
		{name: "ClusterIP: the cluster IP only", svc: testService(corev1.ServiceTypeClusterIP), want: "[default/kubia/TCP [TCP 127.2.0.10:80]]"},
		{name: "NodePort: cluster IP and node IP:nodePort", svc: testService(corev1.ServiceTypeNodePort), want: "[default/kubia/TCP [TCP 127.2.0.10:80 TCP 127.0.0.1:30123]]"},
		{name: "LoadBalancer with this node's ingress: also node IP:port", svc: lb, want: "[default/kubia/TCP [TCP 127.2.0.10:80 TCP 127.0.0.1:30123 TCP 127.0.0.1:80]]"},
		{name: "LoadBalancer with another node's ingress: like NodePort", svc: lbElsewhere, want: "[default/kubia/TCP [TCP 127.2.0.10:80 TCP 127.0.0.1:30123]]"},
		{name: "external IPs listen on the port", svc: withExternalIP, want: "[default/kubia/TCP [TCP 127.2.0.10:80 TCP 127.9.0.1:80]]"},
		{name: "headless: nothing", svc: headless, want: "[]"},
		{name: "ExternalName: nothing", svc: external, want: "[]"},
		{name: "deleted: nothing", svc: nil, want: "[]"},
		{name: "TCP and UDP ports of one number are two ports; SCTP is skipped", svc: testService(corev1.ServiceTypeClusterIP,
			corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			corev1.ServicePort{Name: "sig", Port: 99, Protocol: corev1.ProtocolSCTP}),
			want: "[default/kubia:dns-tcp/TCP [TCP 127.2.0.10:53] default/kubia:dns/UDP [UDP 127.2.0.10:53]]"},
		{name: "ClientIP affinity defaults to 3 hours", svc: affinity, want: "[default/kubia/TCP [TCP 127.2.0.10:80]]", affinity: 3 * time.Hour},
		{name: "ClientIP affinity timeout from the config", svc: affinityTimeout, want: "[default/kubia/TCP [TCP 127.2.0.10:80]]", affinity: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plans := planService(tt.svc, nil, node)
			var got []string
			for _, p := range plans {
				got = append(got, fmt.Sprintf("%s %v", p.id, p.listen))
				if p.affinity != tt.affinity {
					t.Errorf("affinity %v; want %v", p.affinity, tt.affinity)
				}
			}
			if s := fmt.Sprint(got); s != tt.want && !(len(got) == 0 && tt.want == "[]") {
				t.Errorf("plan %s; want %s", s, tt.want)
			}
		})
	}
}

func TestReadyEndpoints(t *testing.T) {
	fqdn := slice("", corev1.ProtocolTCP, 8080, "example.com")
	fqdn.AddressType = discoveryv1.AddressTypeFQDN
	tests := []struct {
		name   string
		port   string
		proto  corev1.Protocol
		slices []*discoveryv1.EndpointSlice
		want   string
	}{
		{name: "ready endpoints, sorted; unready left out; no condition counts as ready", proto: corev1.ProtocolTCP,
			slices: []*discoveryv1.EndpointSlice{slice("", corev1.ProtocolTCP, 8080, "127.0.1.3", "!127.0.1.1", "?127.0.1.2")},
			want:   "[127.0.1.2:8080 127.0.1.3:8080]"},
		{name: "several slices, a pod listed twice counted once", proto: corev1.ProtocolTCP,
			slices: []*discoveryv1.EndpointSlice{slice("", corev1.ProtocolTCP, 8080, "127.0.1.1"), slice("", corev1.ProtocolTCP, 8080, "127.0.1.1", "127.0.1.2")},
			want:   "[127.0.1.1:8080 127.0.1.2:8080]"},
		{name: "slices resolving a named port differently give each pod its port", port: "http", proto: corev1.ProtocolTCP,
			slices: []*discoveryv1.EndpointSlice{slice("http", corev1.ProtocolTCP, 8080, "127.0.1.1"), slice("http", corev1.ProtocolTCP, 9090, "127.0.1.2")},
			want:   "[127.0.1.1:8080 127.0.1.2:9090]"},
		{name: "the port name must match", port: "metrics", proto: corev1.ProtocolTCP,
			slices: []*discoveryv1.EndpointSlice{slice("http", corev1.ProtocolTCP, 8080, "127.0.1.1")},
			want:   "[]"},
		{name: "the protocol must match", proto: corev1.ProtocolUDP,
			slices: []*discoveryv1.EndpointSlice{slice("", corev1.ProtocolTCP, 8080, "127.0.1.1")},
			want:   "[]"},
		{name: "FQDN slices are not proxied", proto: corev1.ProtocolTCP,
			slices: []*discoveryv1.EndpointSlice{fqdn},
			want:   "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(readyEndpoints(tt.port, tt.proto, tt.slices)); got != tt.want {
				t.Errorf("endpoints %s; want %s", got, tt.want)
			}
		})
	}
}
