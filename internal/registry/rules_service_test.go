package registry

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validService is a ClusterIP service "web" in "default" exposing port 80.
func validService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metaOf("web", "default", nil),
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
}

func TestServiceDefaults(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*corev1.Service)
		check func(*corev1.Service) bool
	}{
		{"type defaults to ClusterIP", nil,
			func(s *corev1.Service) bool { return s.Spec.Type == corev1.ServiceTypeClusterIP }},
		{"sessionAffinity defaults to None", nil,
			func(s *corev1.Service) bool { return s.Spec.SessionAffinity == corev1.ServiceAffinityNone }},
		{"port protocol defaults to TCP", nil,
			func(s *corev1.Service) bool { return s.Spec.Ports[0].Protocol == corev1.ProtocolTCP }},
		{"targetPort defaults to port", nil,
			func(s *corev1.Service) bool { return s.Spec.Ports[0].TargetPort == intstr.FromInt32(80) }},
		{"named targetPort is kept",
			func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") },
			func(s *corev1.Service) bool { return s.Spec.Ports[0].TargetPort == intstr.FromString("http") }},
		{"internalTrafficPolicy defaults to Cluster", nil,
			func(s *corev1.Service) bool {
				return *s.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyCluster
			}},
		{"ipFamilyPolicy defaults to SingleStack", nil,
			func(s *corev1.Service) bool { return *s.Spec.IPFamilyPolicy == corev1.IPFamilyPolicySingleStack }},
		{"ipFamilies default to IPv4", nil,
			func(s *corev1.Service) bool {
				return slices.Equal(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol})
			}},
		{"ClusterIP service has no externalTrafficPolicy", nil,
			func(s *corev1.Service) bool { return s.Spec.ExternalTrafficPolicy == "" }},
		{"NodePort externalTrafficPolicy defaults to Cluster",
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort },
			func(s *corev1.Service) bool {
				return s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyCluster
			}},
		{"LoadBalancer allocates node ports by default",
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer },
			func(s *corev1.Service) bool {
				return *s.Spec.AllocateLoadBalancerNodePorts && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyCluster
			}},
		{"ClientIP affinity gets a 3 hour timeout",
			func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP },
			func(s *corev1.Service) bool { return *s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == 10800 }},
		{"ExternalName gets no IP families",
			func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ExternalName = "example.com"
			},
			func(s *corev1.Service) bool { return s.Spec.IPFamilyPolicy == nil && s.Spec.IPFamilies == nil }},
		{"headless service without selector requires dual stack",
			func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone; s.Spec.Selector = nil },
			func(s *corev1.Service) bool {
				return *s.Spec.IPFamilyPolicy == corev1.IPFamilyPolicyRequireDualStack && len(s.Spec.IPFamilies) == 2
			}},
	}
	r := rulesOf(t, "", "services")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validService()
			if tt.edit != nil {
				tt.edit(s)
			}
			r.Default(s)
			if !tt.check(s) {
				t.Errorf("defaults not applied: %+v", s.Spec)
			}
		})
	}
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*corev1.Service)
		want []string
	}{
		{"valid service", nil, nil},
		{"headless service", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }, nil},
		{"headless service without selector", func(s *corev1.Service) {
			s.Spec.ClusterIP = corev1.ClusterIPNone
			s.Spec.Selector = nil
		}, nil},
		{"name must be a DNS-1035 label",
			func(s *corev1.Service) { s.Name = "1web" },
			[]string{"metadata.name: Invalid value: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"}},
		{"ports are required",
			func(s *corev1.Service) { s.Spec.Ports = nil },
			[]string{"spec.ports: Required value"}},
		{"port out of range",
			func(s *corev1.Service) { s.Spec.Ports[0].Port = 0; s.Spec.Ports[0].TargetPort = intstr.FromInt32(80) },
			[]string{"spec.ports[0].port: Invalid value: must be between 1 and 65535, inclusive"}},
		{"port name required when there are several",
			func(s *corev1.Service) {
				s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443})
			},
			[]string{"spec.ports[0].name: Required value"}},
		{"port names are unique",
			func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 81}}
			},
			[]string{"spec.ports[1].name: Duplicate value"}},
		{"same port and protocol twice",
			func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}
			},
			[]string{"spec.ports[1]: Duplicate value"}},
		{"unknown type",
			func(s *corev1.Service) { s.Spec.Type = "Balanced" },
			[]string{`spec.type: Unsupported value: supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"nodePort on a ClusterIP service",
			func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"nodePort in range on a NodePort service",
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 30080 },
			nil},
		{"nodePort out of range",
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 8080 },
			[]string{"spec.ports[0].nodePort: Invalid value: provided port is not in the valid range. The range of valid ports is 30000-32767"}},
		{"NodePort service cannot be headless",
			func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.ClusterIP = corev1.ClusterIPNone
			},
			[]string{"spec.clusterIPs[0]: Invalid value: may not be set to 'None' for NodePort services"}},
		{"ExternalName needs an externalName",
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName },
			[]string{"spec.externalName: Required value"}},
		{"invalid clusterIP",
			func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.300" },
			[]string{"spec.clusterIPs[0]: Invalid value: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}},
		{"dual stack is not configured",
			func(s *corev1.Service) { s.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicyRequireDualStack) },
			[]string{"spec.ipFamilyPolicy: Invalid value: this cluster is not configured for dual-stack services"}},
		{"externalTrafficPolicy on a ClusterIP service",
			func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			[]string{"spec.externalTrafficPolicy: Invalid value: may only be set for externally-accessible services"}},
		{"invalid selector label",
			func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "not ok"} },
			[]string{"spec.selector: Invalid value: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"}},
	}
	r := rulesOf(t, "", "services")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validService()
			if tt.edit != nil {
				tt.edit(s)
			}
			checkRuleErrs(t, runCreate(r, s), tt.want)
		})
	}
}

func TestServiceCreateSyncsClusterIPs(t *testing.T) {
	r := rulesOf(t, "", "services")
	s := validService()
	s.Spec.ClusterIP = "127.2.0.10"
	checkRuleErrs(t, runCreate(r, s), nil)
	if !slices.Equal(s.Spec.ClusterIPs, []string{"127.2.0.10"}) {
		t.Errorf("clusterIPs = %v", s.Spec.ClusterIPs)
	}
}

// storedService is validService as created, allocated and stored, of the given type.
func storedService(t *testing.T, r *Resource, typ corev1.ServiceType) *corev1.Service {
	t.Helper()
	s := validService()
	s.Spec.Type = typ
	if errs := runCreate(r, s); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	markStored(&s.ObjectMeta)
	s.Spec.ClusterIP, s.Spec.ClusterIPs = "127.2.0.10", []string{"127.2.0.10"}
	if typ == corev1.ServiceTypeNodePort {
		s.Spec.Ports[0].NodePort = 30080
	}
	return s
}

func TestServiceUpdate(t *testing.T) {
	tests := []struct {
		name  string
		typ   corev1.ServiceType
		edit  func(*corev1.Service)
		check func(*corev1.Service) bool
		want  []string
	}{
		{"a replace without clusterIP keeps the allocated one", corev1.ServiceTypeClusterIP,
			func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil },
			func(s *corev1.Service) bool { return s.Spec.ClusterIP == "127.2.0.10" && len(s.Spec.ClusterIPs) == 1 }, nil},
		{"clusterIP is immutable once set", corev1.ServiceTypeClusterIP,
			func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "127.2.0.11", nil },
			func(s *corev1.Service) bool { return true },
			[]string{"spec.clusterIPs[0]: Invalid value: may not change once set"}},
		{"a replace without nodePort keeps the allocated one", corev1.ServiceTypeNodePort,
			func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 0 },
			func(s *corev1.Service) bool { return s.Spec.Ports[0].NodePort == 30080 }, nil},
		{"NodePort to ClusterIP drops the node port", corev1.ServiceTypeNodePort,
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP },
			func(s *corev1.Service) bool {
				return s.Spec.Ports[0].NodePort == 0 && s.Spec.ExternalTrafficPolicy == ""
			}, nil},
		{"ClusterIP to ExternalName drops the cluster IPs", corev1.ServiceTypeClusterIP,
			func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ExternalName = "example.com"
			},
			func(s *corev1.Service) bool {
				return s.Spec.ClusterIP == "" && s.Spec.ClusterIPs == nil && s.Spec.IPFamilies == nil && s.Spec.IPFamilyPolicy == nil
			}, nil},
	}
	r := rulesOf(t, "", "services")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedService(t, r, tt.typ)
			s := old.DeepCopy()
			tt.edit(s)
			checkRuleErrs(t, runUpdate(r, s, old), tt.want)
			if !tt.check(s) {
				t.Errorf("unexpected spec %+v", s.Spec)
			}
		})
	}
}

func TestServiceStatusUpdateKeepsSpec(t *testing.T) {
	r := rulesOf(t, "", "services")
	old := storedService(t, r, corev1.ServiceTypeLoadBalancer)
	s := old.DeepCopy()
	s.Spec.Ports[0].Port = 81
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
	checkRuleErrs(t, runStatusUpdate(r, s, old), nil)
	if s.Spec.Ports[0].Port != 80 || *s.Status.LoadBalancer.Ingress[0].IPMode != corev1.LoadBalancerIPModeVIP {
		t.Errorf("spec %+v status %+v", s.Spec, s.Status)
	}
}
