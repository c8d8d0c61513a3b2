package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func tableService(t corev1.ServiceType, mutate ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: tableAgo(time.Hour)},
		Spec: corev1.ServiceSpec{Type: t, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Ports:    []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector: map[string]string{"app": "web"}},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

func TestServiceRow(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want []interface{}
	}{
		{name: "ClusterIP service prints <none> external IP",
			svc:  tableService(corev1.ServiceTypeClusterIP),
			want: []interface{}{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web"}},
		{name: "ClusterIP service with external IPs lists them",
			svc:  tableService(corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"1.2.3.4", "1.2.3.5"} }),
			want: []interface{}{"web", "ClusterIP", "10.96.0.10", "1.2.3.4,1.2.3.5", "80/TCP", "60m", "app=web"}},
		{name: "NodePort service prints 80:30123/TCP",
			svc: tableService(corev1.ServiceTypeNodePort, func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30123, Protocol: corev1.ProtocolTCP},
					{Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP}}
			}),
			want: []interface{}{"web", "NodePort", "10.96.0.10", "<none>", "80:30123/TCP,53:30053/UDP", "60m", "app=web"}},
		{name: "LoadBalancer without ingress prints <pending>",
			svc:  tableService(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 31000 }),
			want: []interface{}{"web", "LoadBalancer", "10.96.0.10", "<pending>", "80:31000/TCP", "60m", "app=web"}},
		{name: "LoadBalancer prints its sorted distinct ingress points, then external IPs, unclipped",
			svc: tableService(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{
					{Hostname: "lb.example.com"}, {IP: "203.0.113.9"}, {IP: "203.0.113.9"}, {IP: "198.51.100.1", Hostname: "ignored"}}
				s.Spec.ExternalIPs = []string{"192.0.2.1"}
			}),
			want: []interface{}{"web", "LoadBalancer", "10.96.0.10", "198.51.100.1,203.0.113.9,lb.example.com,192.0.2.1", "80/TCP", "60m", "app=web"}},
		{name: "LoadBalancer with only external IPs lists them",
			svc:  tableService(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"192.0.2.1"} }),
			want: []interface{}{"web", "LoadBalancer", "10.96.0.10", "192.0.2.1", "80/TCP", "60m", "app=web"}},
		{name: "ExternalName service prints its external name and no cluster IP or ports",
			svc: tableService(corev1.ServiceTypeExternalName, func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports, s.Spec.Selector = "", nil, nil, nil
				s.Spec.ExternalName = "db.example.com"
			}),
			want: []interface{}{"web", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"}},
		{name: "headless service prints None",
			svc: tableService(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
			}),
			want: []interface{}{"web", "ClusterIP", "None", "<none>", "80/TCP", "60m", "app=web"}},
		{name: "first of dual-stack cluster IPs is printed",
			svc: tableService(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
				s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00::a"}
			}),
			want: []interface{}{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web"}},
		{name: "unknown service type prints <unknown> external IP",
			svc:  tableService("Weird"),
			want: []interface{}{"web", "Weird", "10.96.0.10", "<unknown>", "80/TCP", "60m", "app=web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, serviceRow(tt.svc, tableNow()), tt.want)
		})
	}
}

func TestEndpointsCell(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i].IP = ip
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{name: "no subsets prints <none>", want: "<none>"},
		{name: "addresses join with their port",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("127.1.0.2", "127.1.0.3"), Ports: []corev1.EndpointPort{{Port: 8080}}}},
			want:    "127.1.0.2:8080,127.1.0.3:8080"},
		{name: "more than three print + N more",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("127.1.0.2", "127.1.0.3"), Ports: []corev1.EndpointPort{{Port: 8080}, {Port: 9090}}}},
			want:    "127.1.0.2:8080,127.1.0.3:8080,127.1.0.2:9090 + 1 more..."},
		{name: "headless subset without ports prints bare IPs",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5")}},
			want:    "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."},
		{name: "IPv6 addresses are bracketed",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("fd00::1"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "[fd00::1]:80"},
		{name: "only not-ready addresses print nothing",
			subsets: []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endpointsCell(tt.subsets); got != tt.want {
				t.Errorf("ENDPOINTS = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEndpointSliceRow(t *testing.T) {
	tests := []struct {
		name string
		es   *discoveryv1.EndpointSlice
		want []interface{}
	}{
		{name: "slice prints its address type, ports and addresses",
			es: &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", CreationTimestamp: tableAgo(5 * time.Minute)},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("metrics")}, {}},
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}},
			},
			want: []interface{}{"web-abc12", "IPv4", "80,metrics,*", "10.0.0.1,10.0.0.2", "5m"}},
		{name: "slice with many endpoints prints + N more",
			es: &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: "big"},
				AddressType: discoveryv1.AddressTypeIPv6,
				Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](1)}, {Port: ptr.To[int32](2)},
					{Port: ptr.To[int32](3)}, {Port: ptr.To[int32](4)}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1", "fd00::2"}},
					{Addresses: []string{"fd00::3"}}, {Addresses: []string{"fd00::4", "fd00::5"}}},
			},
			want: []interface{}{"big", "IPv6", "1,2,3 + 1 more...", "fd00::1,fd00::2,fd00::3 + 2 more...", "<unknown>"}},
		{name: "empty slice prints <unset>",
			es:   &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, AddressType: discoveryv1.AddressTypeFQDN},
			want: []interface{}{"empty", "FQDN", "<unset>", "<unset>", "<unknown>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, endpointSliceRow(tt.es, tableNow()), tt.want)
		})
	}
}
