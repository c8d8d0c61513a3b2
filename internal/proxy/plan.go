package proxy

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// portID names one port of one Service: the unit that has one endpoint list and one balancer.
type portID struct {
	namespace, service, port string
	proto                    corev1.Protocol
}

func (id portID) String() string {
	s := id.namespace + "/" + id.service
	if id.port != "" {
		s += ":" + id.port
	}
	return s + "/" + string(id.proto)
}

// listenKey is one address the proxy listens on.
type listenKey struct {
	proto corev1.Protocol
	addr  netip.AddrPort
}

func (k listenKey) String() string { return string(k.proto) + " " + k.addr.String() }

// portPlan is what the proxy does for one Service port: where it listens, where it sends new
// connections, and how sticky they are.
type portPlan struct {
	id        portID
	listen    []listenKey
	endpoints []netip.AddrPort // ready endpoints, sorted
	affinity  time.Duration    // 0: none
}

// planService computes the ports of svc a proxy on nodeIP serves, from the Service and its
// EndpointSlices: each TCP or UDP port listens on every cluster IP, on nodeIP:nodePort for
// NodePort and LoadBalancer Services, on nodeIP:port when the LoadBalancer ingress names
// nodeIP, and on every external IP. Headless and ExternalName Services get nothing.
func planService(svc *corev1.Service, sl []*discoveryv1.EndpointSlice, nodeIP netip.Addr) []portPlan {
	if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var clusterIPs []netip.Addr
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			clusterIPs = append(clusterIPs, a.Unmap())
		}
	}
	if len(clusterIPs) == 0 {
		return nil // headless (clusterIP: None) or not allocated yet
	}
	nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	var lbOnNode bool
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && nodeIP.IsValid() {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && a.Unmap() == nodeIP {
				lbOnNode = true
			}
		}
	}
	var external []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if a, err := netip.ParseAddr(s); err == nil {
			external = append(external, a.Unmap())
		}
	}

	var out []portPlan
	for _, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP {
			continue // SCTP is not proxied
		}
		p := portPlan{
			id:        portID{namespace: svc.Namespace, service: svc.Name, port: sp.Name, proto: proto},
			endpoints: readyEndpoints(sp.Name, proto, sl),
			affinity:  affinityOf(svc),
		}
		add := func(ip netip.Addr, port int32) {
			if !ip.IsValid() || port <= 0 || port > 65535 {
				return
			}
			k := listenKey{proto: proto, addr: netip.AddrPortFrom(ip, uint16(port))}
			if !slices.Contains(p.listen, k) {
				p.listen = append(p.listen, k)
			}
		}
		for _, ip := range clusterIPs {
			add(ip, sp.Port)
		}
		if nodePorts && sp.NodePort != 0 {
			add(nodeIP, sp.NodePort)
		}
		if lbOnNode {
			add(nodeIP, sp.Port)
		}
		for _, ip := range external {
			add(ip, sp.Port)
		}
		out = append(out, p)
	}
	return out
}

// readyEndpoints lists the endpoints of the slices that offer the port named name with proto
// and are ready (an unset ready condition counts as ready, as the API says), deduplicated and
// sorted.
func readyEndpoints(name string, proto corev1.Protocol, sl []*discoveryv1.EndpointSlice) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range sl {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			pn, pp := "", corev1.ProtocolTCP
			if p.Name != nil {
				pn = *p.Name
			}
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pn == name && pp == proto && p.Port != nil {
				port = *p.Port
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready || len(e.Addresses) == 0 {
				continue
			}
			a, err := netip.ParseAddr(e.Addresses[0])
			if err != nil {
				continue
			}
			ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
			if !slices.Contains(out, ap) {
				out = append(out, ap)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Port(), b.Port()))
	})
	return out
}

// affinityOf is the ClientIP session affinity timeout of svc, 0 for none.
func affinityOf(svc *corev1.Service) time.Duration {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0
	}
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
		return time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
	}
	return DefaultAffinityTimeout
}
