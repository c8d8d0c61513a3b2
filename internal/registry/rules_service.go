package registry

import (
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service rules: upstream's core/v1 SetDefaults_Service, the service strategy
// (pkg/registry/core/service/strategy.go) and the parts of the service REST storage that run
// before validation (IP family defaulting, clusterIP/clusterIPs normalization, keeping allocated
// values across updates). skiff's service network is single-stack IPv4.

// Node ports are allocated from this range, as with upstream's default --service-node-port-range.
const (
	nodePortMin = 30000
	nodePortMax = 32767
)

// maxClientIPAffinitySeconds is the longest ClientIP session affinity timeout (one day).
const maxClientIPAffinitySeconds = 86400

// serviceKind is core/v1 Service (pkg/registry/core/service): a Service holds a ClusterIP and
// NodePorts no other Service holds, allocated when it is written.
func serviceKind() Kind[*corev1.Service] {
	return Kind[*corev1.Service]{
		GVR: core("services"), Kind: "Service", Namespaced: true, ShortNames: []string{"svc"}, Categories: []string{"all"},
		Verbs: verbsAll, Subresources: []string{"status", "proxy"},
		New:      func() *corev1.Service { return &corev1.Service{} },
		NewList:  func() runtime.Object { return &corev1.ServiceList{} },
		Strategy: serviceRules(),
		Table:    servicePrinter(),
		Admit:    Admission[*corev1.Service]{Allocate: allocateService, Claims: serviceClaims},
		Delete:   DeleteStrategy[*corev1.Service]{ReturnDeleted: true},
		Proxy:    serviceProxyTarget,
	}
}

func serviceRules() Strategy[*corev1.Service] {
	return withStatusResets(Strategy[*corev1.Service]{
		Default: defaultService,
		PrepareCreate: func(s *corev1.Service) {
			s.Status = corev1.ServiceStatus{}
			normalizeClusterIPs(s, nil)
		},
		PrepareUpdate: prepareServiceUpdate,
		PrepareStatus: func(s, old *corev1.Service) {
			s.Spec = old.Spec
			defaultIngressIPMode(s)
		},
		Validate:       validateService,
		ValidateUpdate: validateServiceUpdate,
		ValidateStatus: func(s, old *corev1.Service) field.ErrorList {
			return append(validateMetaMutable(s), validateLoadBalancerStatus(s)...)
		},
	})
}

// defaultService is SetDefaults_Service plus the IP family defaults upstream's storage applies
// before validation: ipFamilyPolicy SingleStack (RequireDualStack for headless services without a
// selector) and ipFamilies from the clusterIPs, else [IPv4].
func defaultService(s *corev1.Service) {
	spec := &s.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
				ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(corev1.DefaultClientIPServiceAffinitySeconds)},
			}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(s) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil {
		switch spec.Type {
		case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeClusterIP:
			spec.InternalTrafficPolicy = new(corev1.ServiceInternalTrafficPolicyCluster)
		}
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		spec.AllocateLoadBalancerNodePorts = new(true)
	}
	defaultIngressIPMode(s)
	defaultIPFamilies(s)
}

// defaultIngressIPMode gives load-balancer ingress IPs the VIP mode.
func defaultIngressIPMode(s *corev1.Service) {
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	for i, ing := range s.Status.LoadBalancer.Ingress {
		if ing.IP != "" && ing.IPMode == nil {
			s.Status.LoadBalancer.Ingress[i].IPMode = new(corev1.LoadBalancerIPModeVIP)
		}
	}
}

// defaultIPFamilies is upstream's initIPFamilyFields for a single-stack IPv4 cluster.
func defaultIPFamilies(s *corev1.Service) {
	spec := &s.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	headlessNoSelector := isHeadless(s) && len(spec.Selector) == 0
	if spec.IPFamilyPolicy == nil {
		if headlessNoSelector {
			spec.IPFamilyPolicy = new(corev1.IPFamilyPolicyRequireDualStack)
		} else {
			spec.IPFamilyPolicy = new(corev1.IPFamilyPolicySingleStack)
		}
	}
	ips := spec.ClusterIPs
	if len(ips) == 0 && spec.ClusterIP != "" {
		ips = []string{spec.ClusterIP}
	}
	for i, ip := range ips {
		if ip == corev1.ClusterIPNone {
			break
		}
		if i >= len(spec.IPFamilies) && net.ParseIP(ip) != nil {
			spec.IPFamilies = append(spec.IPFamilies, ipFamilyOf(ip))
		}
	}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if headlessNoSelector && len(spec.IPFamilies) == 1 && *spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack {
		if spec.IPFamilies[0] == corev1.IPv4Protocol {
			spec.IPFamilies = append(spec.IPFamilies, corev1.IPv6Protocol)
		} else {
			spec.IPFamilies = append(spec.IPFamilies, corev1.IPv4Protocol)
		}
	}
}

func ipFamilyOf(ip string) corev1.IPFamily {
	if strings.Contains(ip, ":") {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// externallyAccessible: NodePort and LoadBalancer services, and ClusterIP ones with external IPs.
func externallyAccessible(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
}

// isHeadless: clusterIP None.
func isHeadless(s *corev1.Service) bool {
	if len(s.Spec.ClusterIPs) > 0 {
		return len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone
	}
	return s.Spec.ClusterIP == corev1.ClusterIPNone
}

func needsNodePorts(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func needsHealthCheckNodePort(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// normalizeClusterIPs keeps clusterIP and clusterIPs in step for clients that set only the
// singular field (old is nil on create).
func normalizeClusterIPs(s, old *corev1.Service) {
	spec := &s.Spec
	if old == nil {
		if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
		return
	}
	if len(old.Spec.ClusterIPs) > 0 && len(spec.ClusterIPs) == 0 && old.Spec.ClusterIP == spec.ClusterIP {
		spec.ClusterIPs = old.Spec.ClusterIPs
	}
	if old.Spec.ClusterIP != spec.ClusterIP {
		switch {
		case old.Spec.ClusterIP != "" && spec.ClusterIP == "":
			if slices.Equal(old.Spec.ClusterIPs, spec.ClusterIPs) {
				spec.ClusterIPs = nil
			}
		case slices.Equal(old.Spec.ClusterIPs, spec.ClusterIPs):
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
	}
}

// prepareServiceUpdate keeps the stored status, keeps allocated values (cluster IPs, node ports,
// health check node port) a client left out, and drops the values the new type no longer uses.
func prepareServiceUpdate(s, old *corev1.Service) {
	s.Status = old.Status
	patchAllocatedValues(s, old)
	normalizeClusterIPs(s, old)
	dropTypeDependentFields(s, old)
}

// patchAllocatedValues fills allocated fields a full replace (kubectl replace, apply) omitted.
func patchAllocatedValues(s, old *corev1.Service) {
	if old.Spec.Type != corev1.ServiceTypeExternalName && s.Spec.Type != corev1.ServiceTypeExternalName {
		if s.Spec.ClusterIP == "" {
			s.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(s.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			s.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
	}
	if needsNodePorts(old) && needsNodePorts(s) {
		inNew := map[int32]bool{}
		for _, p := range s.Spec.Ports {
			inNew[p.NodePort] = true
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range s.Spec.Ports {
			p := &s.Spec.Ports[i]
			if p.NodePort == 0 {
				if np := byName[p.Name]; !inNew[np] {
					p.NodePort = np
				}
			}
		}
	}
	if needsHealthCheckNodePort(old) && needsHealthCheckNodePort(s) && s.Spec.HealthCheckNodePort == 0 {
		s.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// dropTypeDependentFields clears the fields a type change makes meaningless, when the client
// left them as they were.
func dropTypeDependentFields(s, old *corev1.Service) {
	if old.Spec.Type != corev1.ServiceTypeExternalName && s.Spec.Type == corev1.ServiceTypeExternalName {
		if old.Spec.ClusterIP == s.Spec.ClusterIP && slices.Equal(old.Spec.ClusterIPs, s.Spec.ClusterIPs) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(old.Spec.IPFamilies, s.Spec.IPFamilies) {
			s.Spec.IPFamilies = nil
		}
		if ipFamilyPolicy(old) == ipFamilyPolicy(s) {
			s.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePorts(old) && !needsNodePorts(s) && sameNodePorts(old, s) {
		for i := range s.Spec.Ports {
			s.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheckNodePort(old) && !needsHealthCheckNodePort(s) && old.Spec.HealthCheckNodePort == s.Spec.HealthCheckNodePort {
		s.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		if a, b := old.Spec.AllocateLoadBalancerNodePorts, s.Spec.AllocateLoadBalancerNodePorts; a != nil && b != nil && *a == *b {
			s.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if equalStringPtr(old.Spec.LoadBalancerClass, s.Spec.LoadBalancerClass) {
			s.Spec.LoadBalancerClass = nil
		}
	}
	if needsNodePorts(old) && !needsNodePorts(s) && old.Spec.ExternalTrafficPolicy == s.Spec.ExternalTrafficPolicy {
		s.Spec.ExternalTrafficPolicy = ""
	}
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		s.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

// sameNodePorts: the new service adds no node port the old one did not have.
func sameNodePorts(old, s *corev1.Service) bool {
	had := map[int32]bool{}
	for _, p := range old.Spec.Ports {
		had[p.NodePort] = true
	}
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 && !had[p.NodePort] {
			return false
		}
	}
	return true
}

func ipFamilyPolicy(s *corev1.Service) corev1.IPFamilyPolicy {
	if s.Spec.IPFamilyPolicy == nil {
		return ""
	}
	return *s.Spec.IPFamilyPolicy
}

func equalStringPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
