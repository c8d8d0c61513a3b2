package endpoints

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
)

// desiredSubsets computes the subsets of a selector Service's Endpoints from the pods its
// selector matches: one address per pod (ready pods under addresses, others under
// notReadyAddresses, every pod under addresses when publishNotReadyAddresses is set), with each
// Service port resolved on that pod. Pods being deleted are left out unless
// publishNotReadyAddresses is set; a pod that lacks a named port is left out of that port only.
// The result is in canonical form (see repack), so equal inputs give equal subsets.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	publishAll := svc.Spec.PublishNotReadyAddresses
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	var flat []flatAddress
	for _, pod := range pods {
		if !includePod(pod, publishAll) {
			continue
		}
		addr := corev1.EndpointAddress{
			IP:       podIP(pod),
			Hostname: hostnameFor(pod, svc),
			TargetRef: &corev1.ObjectReference{
				Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			},
		}
		if pod.Spec.NodeName != "" {
			addr.NodeName = new(pod.Spec.NodeName)
		}
		ready := publishAll || podReady(pod)
		if len(svc.Spec.Ports) == 0 {
			if headless {
				// A headless Service may have no ports: its pods are listed without any.
				flat = append(flat, flatAddress{addr: addr, ready: ready})
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, err := findPort(pod, sp)
			if err != nil {
				continue
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			port := corev1.EndpointPort{Name: sp.Name, Port: num, Protocol: proto, AppProtocol: sp.AppProtocol}
			flat = append(flat, flatAddress{addr: addr, port: &port, ready: ready})
		}
	}
	return repack(flat)
}

// flatAddress is one address offering one port (or no port, for headless Services without
// ports): the expanded form repack packs into subsets.
type flatAddress struct {
	addr  corev1.EndpointAddress
	port  *corev1.EndpointPort
	ready bool
}

type addressKey struct {
	ip  string
	uid types.UID
}

// repack packs addresses into the canonical subsets: addresses that offer exactly the same set
// of ports share one subset; an address listed both ready and not ready for a port is not ready;
// addresses sort by IP then pod UID, ports by name, number and protocol, and subsets by their
// first port and then first address.
func repack(flat []flatAddress) []corev1.EndpointSubset {
	if len(flat) == 0 {
		return []corev1.EndpointSubset{}
	}
	type state struct {
		addr  corev1.EndpointAddress
		ports map[portKey]corev1.EndpointPort
		ready map[portKey]bool
	}
	byAddr := map[addressKey]*state{}
	var order []addressKey
	for _, f := range flat {
		k := addressKey{ip: f.addr.IP}
		if f.addr.TargetRef != nil {
			k.uid = f.addr.TargetRef.UID
		}
		st := byAddr[k]
		if st == nil {
			st = &state{addr: f.addr, ports: map[portKey]corev1.EndpointPort{}, ready: map[portKey]bool{}}
			byAddr[k] = st
			order = append(order, k)
		}
		pk := portKey{}
		if f.port != nil {
			pk = keyOfPort(*f.port)
			st.ports[pk] = *f.port
		}
		if was, seen := st.ready[pk]; !seen || was {
			st.ready[pk] = f.ready
		}
	}

	// Group addresses by the set of (port, readiness) pairs they offer: within one subset every
	// address offers every port, and is ready or not for all of them.
	type group struct {
		ports    []corev1.EndpointPort
		ready    []corev1.EndpointAddress
		notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, k := range order {
		st := byAddr[k]
		// An address ready for some ports and not others is split: each readiness gets the
		// ports it applies to.
		for _, wantReady := range []bool{true, false} {
			var ports []corev1.EndpointPort
			hasAny := false
			for pk, r := range st.ready {
				if r != wantReady {
					continue
				}
				hasAny = true
				if p, ok := st.ports[pk]; ok {
					ports = append(ports, p)
				}
			}
			if !hasAny {
				continue
			}
			sortPorts(ports)
			gk := portsKey(ports)
			g := groups[gk]
			if g == nil {
				g = &group{ports: ports}
				groups[gk] = g
			}
			if wantReady {
				g.ready = append(g.ready, st.addr)
			} else {
				g.notReady = append(g.notReady, st.addr)
			}
		}
	}

	out := make([]corev1.EndpointSubset, 0, len(groups))
	for _, g := range groups {
		sortAddresses(g.ready)
		sortAddresses(g.notReady)
		ss := corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports}
		out = append(out, ss)
	}
	slices.SortFunc(out, func(a, b corev1.EndpointSubset) int {
		if c := strings.Compare(portsKey(a.Ports), portsKey(b.Ports)); c != 0 {
			return c
		}
		return cmp.Compare(firstIP(a), firstIP(b))
	})
	return out
}

type portKey struct {
	name  string
	port  int32
	proto corev1.Protocol
}

func keyOfPort(p corev1.EndpointPort) portKey {
	return portKey{name: p.Name, port: p.Port, proto: p.Protocol}
}

func sortPorts(ps []corev1.EndpointPort) {
	slices.SortFunc(ps, func(a, b corev1.EndpointPort) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
}

// portsKey is a string naming a sorted set of ports, appProtocol included.
func portsKey(ps []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Name)
		b.WriteByte('/')
		b.WriteString(string(p.Protocol))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(p.Port)))
		if p.AppProtocol != nil {
			b.WriteByte('/')
			b.WriteString(*p.AppProtocol)
		}
		b.WriteByte(';')
	}
	return b.String()
}

func firstIP(ss corev1.EndpointSubset) string {
	if len(ss.Addresses) > 0 {
		return ss.Addresses[0].IP
	}
	if len(ss.NotReadyAddresses) > 0 {
		return ss.NotReadyAddresses[0].IP
	}
	return ""
}

func sortAddresses(as []corev1.EndpointAddress) {
	slices.SortFunc(as, func(a, b corev1.EndpointAddress) int {
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		var ua, ub types.UID
		if a.TargetRef != nil {
			ua = a.TargetRef.UID
		}
		if b.TargetRef != nil {
			ub = b.TargetRef.UID
		}
		return strings.Compare(string(ua), string(ub))
	})
}

// endpointsLabels are the labels a Service's Endpoints carry: the Service's own, plus
// service.kubernetes.io/headless for a Service without a cluster IP.
func endpointsLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	if serviceIPSet(svc) {
		delete(out, corev1.IsHeadlessService)
	} else {
		out[corev1.IsHeadlessService] = ""
	}
	return out
}

// endpointsUpToDate reports whether cur already holds subsets and the labels svc implies, so
// that no write is needed.
func endpointsUpToDate(cur *corev1.Endpoints, svc *corev1.Service, subsets []corev1.EndpointSubset) bool {
	want := endpointsLabels(svc)
	have := cur.Labels
	if have == nil {
		have = map[string]string{}
	}
	curSubsets := cur.Subsets
	if curSubsets == nil {
		curSubsets = []corev1.EndpointSubset{}
	}
	return maps.Equal(want, have) && apiequality.Semantic.DeepEqual(curSubsets, subsets)
}

func serviceIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone
}
