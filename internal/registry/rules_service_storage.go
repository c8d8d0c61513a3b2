package registry

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// What upstream's service storage (pkg/registry/core/service/storage, ipallocator,
// portallocator) does beyond the strategy: ClusterIP and NodePort allocation, and where the
// proxy subresource goes.

// serviceClaims are the ClusterIPs and NodePorts svc holds.
func serviceClaims(svc *corev1.Service) Claims {
	c := Claims{IPs: map[string]bool{}, Ports: map[int32]bool{}}
	for _, ip := range svc.Spec.ClusterIPs {
		c.IPs[ip] = true
	}
	if svc.Spec.ClusterIP != "" {
		c.IPs[svc.Spec.ClusterIP] = true
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			c.Ports[p.NodePort] = true
		}
	}
	return c
}

// allocateService assigns a ClusterIP and NodePorts to svc (old is the stored Service on update,
// nil on create), honouring requested values or refusing them with 422 when taken by another
// Service or outside the pools.
func allocateService(svc, old *corev1.Service, taken Claims, pools Pools) error {
	var errs field.ErrorList
	if old != nil && svc.Spec.ClusterIP == "" && svc.Spec.Type != corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	case svc.Spec.ClusterIP == "":
		ip, err := nextFreeIP(pools.ServiceCIDR, taken.IPs)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
	default:
		ip := net.ParseIP(svc.Spec.ClusterIP)
		path := field.NewPath("spec", "clusterIPs").Index(0)
		switch {
		case ip == nil:
			errs = append(errs, field.Invalid(path, svc.Spec.ClusterIP, "must be a valid IP address"))
		case old != nil && old.Spec.ClusterIP == svc.Spec.ClusterIP:
		case !pools.ServiceCIDR.Contains(ip):
			errs = append(errs, field.Invalid(path, svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, svc.Spec.ClusterIP, pools.ServiceCIDR)))
		case taken.IPs[svc.Spec.ClusterIP]:
			errs = append(errs, field.Invalid(path, svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", svc.Spec.ClusterIP)))
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}

	needsNodePort := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	mine := map[int32]bool{}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if !needsNodePort {
			p.NodePort = 0
			continue
		}
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if p.NodePort == 0 && old != nil {
			for _, op := range old.Spec.Ports {
				if op.NodePort != 0 && op.Port == p.Port && op.Protocol == p.Protocol {
					p.NodePort = op.NodePort
				}
			}
		}
		if p.NodePort != 0 {
			switch {
			case int(p.NodePort) < pools.NodePortMin || int(p.NodePort) > pools.NodePortMax:
				errs = append(errs, field.Invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", pools.NodePortMin, pools.NodePortMax)))
			case taken.Ports[p.NodePort]:
				errs = append(errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
			}
			mine[p.NodePort] = true
			continue
		}
		port, err := freeNodePort(pools, taken.Ports, mine)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		p.NodePort = port
		mine[port] = true
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, errs)
	}
	return nil
}

// nextFreeIP returns the lowest free address in cidr after the network address.
func nextFreeIP(cidr *net.IPNet, used map[string]bool) (string, error) {
	base := cidr.IP.To4()
	if base == nil {
		return "", fmt.Errorf("service CIDR %s is not IPv4", cidr)
	}
	ones, bits := cidr.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	start := binary.BigEndian.Uint32(base)
	for i := uint32(1); i < size-1; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, start+i)
		if !used[ip.String()] {
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("range %s is full", cidr)
}

// freeNodePort returns a random free port of the NodePort range, as upstream's port allocator.
func freeNodePort(pools Pools, used, mine map[int32]bool) (int32, error) {
	n := pools.NodePortMax - pools.NodePortMin + 1
	off := rand.IntN(n)
	for i := 0; i < n; i++ {
		p := int32(pools.NodePortMin + (off+i)%n)
		if !used[p] && !mine[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free NodePort in %d-%d", pools.NodePortMin, pools.NodePortMax)
}

// serviceProxyTarget picks a ready endpoint of svc for port (a port name or number; "" = the
// first) for services/NAME[:PORT]/proxy.
func serviceProxyTarget(svc *corev1.Service, port string, get Getter) (string, error) {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if port == "" || p.Name == port || strconv.Itoa(int(p.Port)) == port {
			sp = p
			break
		}
	}
	if sp == nil {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %q found for service %q", port, svc.Name))
	}
	obj, ok := get(schema.GroupResource{Resource: "endpoints"}, svc.Namespace, svc.Name)
	if !ok {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
	}
	ep := obj.(*corev1.Endpoints)
	rv, _ := strconv.ParseInt(ep.ResourceVersion, 10, 64)
	for _, subset := range ep.Subsets {
		for _, p := range subset.Ports {
			if p.Name != sp.Name || len(subset.Addresses) == 0 {
				continue
			}
			a := subset.Addresses[int(rv)%len(subset.Addresses)]
			return net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))), nil
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
}
