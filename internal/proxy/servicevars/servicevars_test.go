package servicevars

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, Ports: ports},
	}
}

func render(vars []corev1.EnvVar) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}

func TestEnvForKubia(t *testing.T) {
	services := []*corev1.Service{
		svc("default", "kubernetes", "127.2.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}),
		svc("default", "kubia", "127.2.0.10", corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}),
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubia-abc"}}
	want := []string{
		"KUBERNETES_SERVICE_HOST=127.2.0.1",
		"KUBERNETES_SERVICE_PORT=443",
		"KUBERNETES_SERVICE_PORT_HTTPS=443",
		"KUBERNETES_PORT=tcp://127.2.0.1:443",
		"KUBERNETES_PORT_443_TCP=tcp://127.2.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO=tcp",
		"KUBERNETES_PORT_443_TCP_PORT=443",
		"KUBERNETES_PORT_443_TCP_ADDR=127.2.0.1",
		"KUBIA_SERVICE_HOST=127.2.0.10",
		"KUBIA_SERVICE_PORT=80",
		"KUBIA_PORT=tcp://127.2.0.10:80",
		"KUBIA_PORT_80_TCP=tcp://127.2.0.10:80",
		"KUBIA_PORT_80_TCP_PROTO=tcp",
		"KUBIA_PORT_80_TCP_PORT=80",
		"KUBIA_PORT_80_TCP_ADDR=127.2.0.10",
	}
	if got := render(EnvFor(services, pod)); !slices.Equal(got, want) {
		t.Errorf("EnvFor:\n got %q\nwant %q", got, want)
	}
}

func TestEnvFor(t *testing.T) {
	off := false
	multi := svc("shop", "web-front", "127.2.0.20",
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP})
	all := []*corev1.Service{
		svc("default", "kubernetes", "127.2.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}),
		svc("default", "kubia", "127.2.0.10", corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}),
		multi,
		svc("shop", "headless", corev1.ClusterIPNone, corev1.ServicePort{Port: 80}),
		svc("shop", "db", "", corev1.ServicePort{Port: 5432}), // ExternalName: no cluster IP
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		names string // the variable names' prefixes by Service, in order
		check map[string]string
	}{
		{
			name:  "a pod sees its namespace's Services and the kubernetes Service",
			pod:   &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}},
			names: "[KUBERNETES WEB_FRONT]",
			check: map[string]string{
				"WEB_FRONT_SERVICE_PORT":         "80",
				"WEB_FRONT_SERVICE_PORT_HTTP":    "80",
				"WEB_FRONT_SERVICE_PORT_DNS_UDP": "53",
				"WEB_FRONT_PORT":                 "tcp://127.2.0.20:80",
				"WEB_FRONT_PORT_53_UDP":          "udp://127.2.0.20:53",
				"WEB_FRONT_PORT_53_UDP_PROTO":    "udp",
				"WEB_FRONT_PORT_53_UDP_ADDR":     "127.2.0.20",
			},
		},
		{
			name:  "enableServiceLinks false leaves only the kubernetes Service",
			pod:   &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default"}, Spec: corev1.PodSpec{EnableServiceLinks: &off}},
			names: "[KUBERNETES]",
		},
		{
			name:  "a kubernetes Service in the pod's namespace takes the name",
			pod:   &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}},
			names: "[KUBERNETES WEB_FRONT]",
			check: map[string]string{"KUBERNETES_SERVICE_HOST": "127.2.0.99"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := all
			if tt.check["KUBERNETES_SERVICE_HOST"] != "" {
				own := svc("shop", "kubernetes", "127.2.0.99", corev1.ServicePort{Port: 443, Protocol: corev1.ProtocolTCP})
				// Both orders: the pod's namespace wins either way.
				services = append([]*corev1.Service{own}, append(slices.Clone(all), own)...)
			}
			vars := EnvFor(services, tt.pod)
			got := map[string]string{}
			var prefixes []string
			for _, v := range vars {
				got[v.Name] = v.Value
				if p, ok := strings.CutSuffix(v.Name, "_SERVICE_HOST"); ok {
					prefixes = append(prefixes, p)
				}
			}
			if fmt.Sprint(prefixes) != tt.names {
				t.Errorf("services %v; want %s", prefixes, tt.names)
			}
			for k, v := range tt.check {
				if got[k] != v {
					t.Errorf("%s=%q; want %q", k, got[k], v)
				}
			}
		})
	}
}
