package endpoints

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the slices built from
	// pods: upstream's, so tools that look for controller-managed slices find them.
	ManagedBy = "endpointslice-controller.k8s.io"
	// MirrorManagedBy marks the slices mirrored from user-written Endpoints of Services without
	// a selector.
	MirrorManagedBy = "endpointslicemirroring-controller.k8s.io"

	// DefaultMaxEndpointsPerSlice is upstream's default.
	DefaultMaxEndpointsPerSlice = 100
)

// sliceGroup is a set of endpoints that offer the same ports; they share slices.
type sliceGroup struct {
	ports     []discoveryv1.EndpointPort // sorted by name, protocol, number
	endpoints []discoveryv1.Endpoint
}

// podGroups computes a selector Service's slice endpoints from the pods its selector matches,
// grouped by the ports each pod resolves. Unlike Endpoints, slices keep pods that are being
// deleted, marked terminating and not ready (serving still follows their Ready condition).
func podGroups(svc *corev1.Service, pods []*corev1.Pod) []sliceGroup {
	byKey := map[string]*sliceGroup{}
	for _, pod := range pods {
		if !includePod(pod, true) {
			continue
		}
		ports := podSlicePorts(svc, pod)
		k := slicePortsKey(ports)
		g := byKey[k]
		if g == nil {
			g = &sliceGroup{ports: ports}
			byKey[k] = g
		}
		g.endpoints = append(g.endpoints, podEndpoint(pod, svc))
	}
	return sortedGroups(byKey)
}

func podEndpoint(pod *corev1.Pod, svc *corev1.Service) discoveryv1.Endpoint {
	serving := podReady(pod)
	terminating := pod.DeletionTimestamp != nil
	// "ready" is never true for a terminating pod unless publishNotReadyAddresses says to
	// publish every pod.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{podIP(pod)},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = new(pod.Spec.NodeName)
	}
	if h := hostnameFor(pod, svc); h != "" {
		ep.Hostname = &h
	}
	return ep
}

// podSlicePorts resolves every Service port on pod; ports the pod lacks are left out.
func podSlicePorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
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
		out = append(out, discoveryv1.EndpointPort{Name: new(sp.Name), Port: new(num), Protocol: new(proto), AppProtocol: sp.AppProtocol})
	}
	sortSlicePorts(out)
	return out
}

// endpointsGroups mirrors a user-written Endpoints object into slice endpoints: each subset's
// addresses are ready endpoints, its notReadyAddresses not ready ones. Only IPv4 addresses are
// mirrored.
func endpointsGroups(ep *corev1.Endpoints) []sliceGroup {
	byKey := map[string]*sliceGroup{}
	for _, ss := range ep.Subsets {
		var ports []discoveryv1.EndpointPort
		for _, p := range ss.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: new(p.Name), Port: new(p.Port), Protocol: new(proto), AppProtocol: p.AppProtocol})
		}
		sortSlicePorts(ports)
		k := slicePortsKey(ports)
		g := byKey[k]
		if g == nil {
			g = &sliceGroup{ports: ports}
			byKey[k] = g
		}
		add := func(a corev1.EndpointAddress, ready bool) {
			if !isIPv4(a.IP) {
				return
			}
			e := discoveryv1.Endpoint{Addresses: []string{a.IP}, Conditions: discoveryv1.EndpointConditions{Ready: new(ready)}}
			if a.Hostname != "" {
				e.Hostname = new(a.Hostname)
			}
			if a.NodeName != nil {
				e.NodeName = new(*a.NodeName)
			}
			if a.TargetRef != nil {
				ref := *a.TargetRef
				e.TargetRef = &ref
			}
			g.endpoints = append(g.endpoints, e)
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
	}
	for k, g := range byKey {
		if len(g.endpoints) == 0 {
			delete(byKey, k)
		}
	}
	return sortedGroups(byKey)
}

func sortedGroups(byKey map[string]*sliceGroup) []sliceGroup {
	out := make([]sliceGroup, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		g := byKey[k]
		sortSliceEndpoints(g.endpoints)
		out = append(out, *g)
	}
	return out
}

// slicePlan is what planSlices decided: slices to create, to update (full objects carrying the
// resourceVersion they were read at) and to delete.
type slicePlan struct {
	create []*discoveryv1.EndpointSlice
	update []*discoveryv1.EndpointSlice
	delete []*discoveryv1.EndpointSlice
}

func (p slicePlan) empty() bool { return len(p.create)+len(p.update)+len(p.delete) == 0 }

// sliceSpec says whose slices planSlices manages and how.
type sliceSpec struct {
	svc       *corev1.Service
	managedBy string
	max       int // endpoints per slice
	// placeholder asks for one empty slice when there are no endpoints, as upstream's controller
	// keeps for selector Services.
	placeholder bool
	trigger     time.Time // written to changed slices; zero clears the annotation
}

// planSlices computes how to turn existing (the slices labelled for the Service and managed by
// spec.managedBy) into slices holding groups, with as few writes as it can: an endpoint stays in
// the slice that holds it, new endpoints fill slices with room before new slices are created,
// slices left empty are deleted, and a slice whose content, ports and labels are unchanged is
// not written.
func planSlices(spec sliceSpec, groups []sliceGroup, existing []*discoveryv1.EndpointSlice) slicePlan {
	var plan slicePlan
	svc := spec.svc
	max := spec.max
	if max <= 0 {
		max = DefaultMaxEndpointsPerSlice
	}
	labels := sliceLabels(svc, spec.managedBy)

	want := map[string]map[endpointKey]discoveryv1.Endpoint{}
	wantPorts := map[string][]discoveryv1.EndpointPort{}
	for _, g := range groups {
		k := slicePortsKey(g.ports)
		m := want[k]
		if m == nil {
			m = map[endpointKey]discoveryv1.Endpoint{}
			want[k] = m
			wantPorts[k] = g.ports
		}
		for _, e := range g.endpoints {
			m[keyOfEndpoint(e)] = e
		}
	}

	// Existing slices, by name for a stable order; slices of another Service object (an older
	// one of the same name) or another address type go.
	existing = slices.Clone(existing)
	slices.SortFunc(existing, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	type kept struct {
		slice *discoveryv1.EndpointSlice
		eps   []discoveryv1.Endpoint
	}
	var reusable []*kept // slices whose ports are wanted, with the endpoints they keep
	var unwanted []*discoveryv1.EndpointSlice
	placed := map[string]map[endpointKey]bool{}
	for _, s := range existing {
		if !ownedBy(s, svc) || s.AddressType != discoveryv1.AddressTypeIPv4 {
			plan.delete = append(plan.delete, s)
			continue
		}
		pk := slicePortsKey(sortedCopy(s.Ports))
		w, ok := want[pk]
		if !ok {
			unwanted = append(unwanted, s)
			continue
		}
		if placed[pk] == nil {
			placed[pk] = map[endpointKey]bool{}
		}
		k := &kept{slice: s}
		for _, e := range s.Endpoints {
			ek := keyOfEndpoint(e)
			if d, ok := w[ek]; ok && !placed[pk][ek] && len(k.eps) < max {
				k.eps = append(k.eps, d)
				placed[pk][ek] = true
			}
		}
		reusable = append(reusable, k)
	}

	// New endpoints fill the reusable slices of their group, then new slices.
	for _, pk := range slices.Sorted(maps.Keys(want)) {
		var fresh []discoveryv1.Endpoint
		for ek, e := range want[pk] {
			if !placed[pk][ek] {
				fresh = append(fresh, e)
			}
		}
		sortSliceEndpoints(fresh)
		for _, k := range reusable {
			if len(fresh) == 0 {
				break
			}
			if slicePortsKey(sortedCopy(k.slice.Ports)) != pk {
				continue
			}
			n := min(max-len(k.eps), len(fresh))
			k.eps = append(k.eps, fresh[:n]...)
			fresh = fresh[n:]
		}
		for len(fresh) > 0 {
			n := min(max, len(fresh))
			plan.create = append(plan.create, newSlice(spec, labels, wantPorts[pk], fresh[:n]))
			fresh = fresh[n:]
		}
	}

	for _, k := range reusable {
		if len(k.eps) == 0 {
			unwanted = append(unwanted, k.slice)
			continue
		}
		sortSliceEndpoints(k.eps)
		if u := updated(spec, labels, k.slice, k.slice.Ports, k.eps); u != nil {
			plan.update = append(plan.update, u)
		}
	}

	// With no endpoints at all, a selector Service keeps one empty placeholder slice.
	if spec.placeholder && len(want) == 0 {
		if len(unwanted) > 0 {
			if u := updated(spec, labels, unwanted[0], nil, nil); u != nil {
				plan.update = append(plan.update, u)
			}
			unwanted = unwanted[1:]
		} else if len(plan.create) == 0 {
			plan.create = append(plan.create, newSlice(spec, labels, nil, nil))
		}
	}
	plan.delete = append(plan.delete, unwanted...)
	return plan
}

// updated returns a copy of s holding ports and eps with the Service's labels, or nil when s
// already does.
func updated(spec sliceSpec, labels map[string]string, s *discoveryv1.EndpointSlice, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	cur := slices.Clone(s.Endpoints)
	sortSliceEndpoints(cur)
	if maps.Equal(s.Labels, labels) && apiequality.Semantic.DeepEqual(cur, eps) &&
		apiequality.Semantic.DeepEqual(sortedCopy(s.Ports), sortedCopy(ports)) {
		return nil
	}
	out := s.DeepCopy()
	out.Labels = maps.Clone(labels)
	out.Ports = ports
	out.Endpoints = eps
	if out.Endpoints == nil {
		out.Endpoints = []discoveryv1.Endpoint{}
	}
	setTrigger(&out.ObjectMeta, spec.trigger)
	return out
}

func newSlice(spec sliceSpec, labels map[string]string, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	svc := spec.svc
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    slicePrefix(svc.Name),
			Namespace:       svc.Namespace,
			Labels:          maps.Clone(labels),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
	if s.Endpoints == nil {
		s.Endpoints = []discoveryv1.Endpoint{}
	}
	setTrigger(&s.ObjectMeta, spec.trigger)
	return s
}

// slicePrefix is the generateName of a Service's slices: "<service>-", or the bare name when the
// dash would make it too long.
func slicePrefix(name string) string {
	if len(name)+1 > 253-5 {
		return name
	}
	return name + "-"
}

// sliceLabels are a Service's labels, minus the reserved slice labels, plus the service name,
// the manager and, for a Service without a cluster IP, the headless label.
func sliceLabels(svc *corev1.Service, managedBy string) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		switch k {
		case discoveryv1.LabelServiceName, discoveryv1.LabelManagedBy, corev1.IsHeadlessService:
			continue
		}
		out[k] = v
	}
	if !serviceIPSet(svc) {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = managedBy
	return out
}

func setTrigger(m *metav1.ObjectMeta, t time.Time) {
	if t.IsZero() {
		delete(m.Annotations, corev1.EndpointsLastChangeTriggerTime)
		return
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[corev1.EndpointsLastChangeTriggerTime] = t.UTC().Format(time.RFC3339Nano)
}

func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// endpointKey identifies an endpoint across syncs: its first address and the object behind it.
type endpointKey struct {
	addr string
	uid  types.UID
}

func keyOfEndpoint(e discoveryv1.Endpoint) endpointKey {
	k := endpointKey{}
	if len(e.Addresses) > 0 {
		k.addr = e.Addresses[0]
	}
	if e.TargetRef != nil {
		k.uid = e.TargetRef.UID
	}
	return k
}

func sortSliceEndpoints(eps []discoveryv1.Endpoint) {
	slices.SortFunc(eps, func(a, b discoveryv1.Endpoint) int {
		ka, kb := keyOfEndpoint(a), keyOfEndpoint(b)
		return cmp.Or(strings.Compare(ka.addr, kb.addr), strings.Compare(string(ka.uid), string(kb.uid)))
	})
}

func sortSlicePorts(ps []discoveryv1.EndpointPort) {
	slices.SortFunc(ps, func(a, b discoveryv1.EndpointPort) int {
		return strings.Compare(slicePortString(a), slicePortString(b))
	})
}

func sortedCopy(ps []discoveryv1.EndpointPort) []discoveryv1.EndpointPort {
	out := slices.Clone(ps)
	sortSlicePorts(out)
	return out
}

// slicePortsKey names a sorted set of slice ports.
func slicePortsKey(ps []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(slicePortString(p))
		b.WriteByte(';')
	}
	return b.String()
}

func slicePortString(p discoveryv1.EndpointPort) string {
	name, proto, num, app := "", string(corev1.ProtocolTCP), "", ""
	if p.Name != nil {
		name = *p.Name
	}
	if p.Protocol != nil {
		proto = string(*p.Protocol)
	}
	if p.Port != nil {
		num = strconv.Itoa(int(*p.Port))
	}
	if p.AppProtocol != nil {
		app = *p.AppProtocol
	}
	return name + "/" + proto + "/" + num + "/" + app
}

func isIPv4(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil && !strings.Contains(s, ":")
}
