package endpoints

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDesiredSubsets(t *testing.T) {
	named := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{
		{
			name: "no pods: no subsets",
			svc:  service("kubia").obj(),
			want: []corev1.EndpointSubset{},
		},
		{
			name: "ready pods are addresses, unready ones notReadyAddresses, sorted by IP",
			svc:  service("kubia").obj(),
			pods: pods(pod("c", "127.0.1.3"), pod("a", "127.0.1.1"), pod("b", "127.0.1.2").notReady()),
			want: []corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{addr("a", "127.0.1.1"), addr("c", "127.0.1.3")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("b", "127.0.1.2")},
				Ports:             []corev1.EndpointPort{port("", 8080)},
			}},
		},
		{
			name: "a pod being deleted leaves at once, though still Ready",
			svc:  service("kubia").obj(),
			pods: pods(pod("a", "127.0.1.1"), pod("b", "127.0.1.2").terminating()),
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("a", "127.0.1.1")},
				Ports:     []corev1.EndpointPort{port("", 8080)},
			}},
		},
		{
			name: "publishNotReadyAddresses lists unready and terminating pods as addresses",
			svc:  service("kubia").publishAll().obj(),
			pods: pods(pod("a", "127.0.1.1").notReady(), pod("b", "127.0.1.2").terminating()),
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("a", "127.0.1.1"), addr("b", "127.0.1.2")},
				Ports:     []corev1.EndpointPort{port("", 8080)},
			}},
		},
		{
			name: "pods without an IP and finished pods are left out",
			svc:  service("kubia").obj(),
			pods: pods(pod("a", "127.0.1.1").noIP(), pod("b", "127.0.1.2").phase(corev1.PodSucceeded),
				pod("c", "127.0.1.3").phase(corev1.PodFailed).notReady(), pod("d", "127.0.1.4")),
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("d", "127.0.1.4")},
				Ports:     []corev1.EndpointPort{port("", 8080)},
			}},
		},
		{
			name: "a named targetPort resolves per pod; pods on different ports get different subsets",
			svc:  service("kubia").ports(named).obj(),
			pods: pods(pod("a", "127.0.1.1"), pod("b", "127.0.1.2").containerPort("http", 9090), pod("c", "127.0.1.3").containerPort("metrics", 9100)),
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("a", "127.0.1.1")}, Ports: []corev1.EndpointPort{port("http", 8080)}},
				{Addresses: []corev1.EndpointAddress{addr("b", "127.0.1.2")}, Ports: []corev1.EndpointPort{port("http", 9090)}},
			},
		},
		{
			name: "two ports of one pod share a subset, sorted by name",
			svc: service("kubia").ports(
				corev1.ServicePort{Name: "web", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
				corev1.ServicePort{Name: "admin", Port: 81, TargetPort: intstr.FromInt32(8081), Protocol: corev1.ProtocolTCP},
			).obj(),
			pods: pods(pod("a", "127.0.1.1")),
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("a", "127.0.1.1")},
				Ports:     []corev1.EndpointPort{port("admin", 8081), port("web", 8080)},
			}},
		},
		{
			name: "a headless Service without ports lists addresses without ports",
			svc:  service("kubia").headless().ports().obj(),
			pods: pods(pod("a", "127.0.1.1")),
			want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "127.0.1.1")}}},
		},
		{
			name: "a ClusterIP Service without ports has no subsets",
			svc:  service("kubia").ports().obj(),
			pods: pods(pod("a", "127.0.1.1")),
			want: []corev1.EndpointSubset{},
		},
		{
			name: "hostname is set when the pod's subdomain names the Service",
			svc:  service("kubia").obj(),
			pods: pods(pod("a", "127.0.1.1").hostname("web-0", "kubia"), pod("b", "127.0.1.2").hostname("web-1", "other")),
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{func() corev1.EndpointAddress { a := addr("a", "127.0.1.1"); a.Hostname = "web-0"; return a }(), addr("b", "127.0.1.2")},
				Ports:     []corev1.EndpointPort{port("", 8080)},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := desiredSubsets(tt.svc, tt.pods)
			expectEqual(t, "subsets", tt.want, got)
			// The same pods in another order give the same subsets.
			rev := slices.Clone(tt.pods)
			slices.Reverse(rev)
			expectEqual(t, "subsets of the pods in reverse order", got, desiredSubsets(tt.svc, rev))
		})
	}
}

func TestFindPort(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		}}},
		InitContainers: []corev1.Container{
			{Ports: []corev1.ContainerPort{{Name: "init-only", ContainerPort: 1111, Protocol: corev1.ProtocolTCP}}},
			{RestartPolicy: &sidecar, Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001, Protocol: corev1.ProtocolTCP}}},
		},
	}}
	tests := []struct {
		name    string
		sp      corev1.ServicePort
		want    int32
		wantErr bool
	}{
		{name: "a number is used as it is", sp: corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9376)}, want: 9376},
		{name: "an unset targetPort means the port", sp: corev1.ServicePort{Port: 80}, want: 80},
		{name: "a name resolves to the container port", sp: corev1.ServicePort{TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}, want: 8080},
		{name: "the protocol must match", sp: corev1.ServicePort{TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolTCP}, wantErr: true},
		{name: "a UDP name resolves for a UDP port", sp: corev1.ServicePort{TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolUDP}, want: 5353},
		{name: "sidecar init containers count", sp: corev1.ServicePort{TargetPort: intstr.FromString("proxy"), Protocol: corev1.ProtocolTCP}, want: 15001},
		{name: "plain init containers do not", sp: corev1.ServicePort{TargetPort: intstr.FromString("init-only"), Protocol: corev1.ProtocolTCP}, wantErr: true},
		{name: "an unknown name fails", sp: corev1.ServicePort{TargetPort: intstr.FromString("nope"), Protocol: corev1.ProtocolTCP}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findPort(p, &tt.sp)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("findPort = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestEndpointsUpToDate(t *testing.T) {
	svc := service("kubia").label("tier", "web").obj()
	subsets := desiredSubsets(svc, pods(pod("a", "127.0.1.1")))
	cur := &corev1.Endpoints{Subsets: desiredSubsets(svc, pods(pod("a", "127.0.1.1")))}
	cur.Labels = map[string]string{"tier": "web"}
	if !endpointsUpToDate(cur, svc, subsets) {
		t.Error("identical Endpoints reported out of date")
	}
	cur.Annotations = map[string]string{corev1.EndpointsLastChangeTriggerTime: "2020-01-01T00:00:00Z"}
	if !endpointsUpToDate(cur, svc, subsets) {
		t.Error("the trigger-time annotation alone must not cause a write")
	}
	headless := service("kubia").headless().obj()
	if endpointsUpToDate(&corev1.Endpoints{Subsets: subsets}, headless, subsets) {
		t.Error("a headless Service's Endpoints lack the headless label yet were reported up to date")
	}
	if endpointsUpToDate(cur, svc, desiredSubsets(svc, pods(pod("a", "127.0.1.1").notReady()))) {
		t.Error("a pod turning unready was reported up to date")
	}
}
