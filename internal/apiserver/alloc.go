package apiserver

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allocateService assigns a ClusterIP and NodePorts to svc (old is the stored Service on update,
// nil on create), honouring requested values or refusing them with 422 when taken. Callers hold
// s.allocMu across allocation and the write.
func (s *Server) allocateService(svc, old *corev1.Service) error {
	gk := schema.GroupKind{Kind: "Service"}
	usedIPs, usedPorts := s.allocatedByOthers(svc.Namespace, svc.Name)
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
		ip, err := s.nextFreeIP(usedIPs)
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
		case !s.cfg.ServiceCIDR.Contains(ip):
			errs = append(errs, field.Invalid(path, svc.Spec.ClusterIP, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, svc.Spec.ClusterIP, s.cfg.ServiceCIDR)))
		case usedIPs[svc.Spec.ClusterIP]:
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
			case int(p.NodePort) < s.cfg.NodePortMin || int(p.NodePort) > s.cfg.NodePortMax:
				errs = append(errs, field.Invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", s.cfg.NodePortMin, s.cfg.NodePortMax)))
			case usedPorts[p.NodePort]:
				errs = append(errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
			}
			mine[p.NodePort] = true
			continue
		}
		port, err := s.freeNodePort(usedPorts, mine)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		p.NodePort = port
		mine[port] = true
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(gk, svc.Name, errs)
	}
	return nil
}

// allocatedByOthers returns the ClusterIPs and NodePorts of every Service except ns/name.
func (s *Server) allocatedByOthers(ns, name string) (map[string]bool, map[int32]bool) {
	ips, ports := map[string]bool{}, map[int32]bool{}
	c := s.caches.byGR["services"]
	for _, o := range c.list("", nil) {
		svc := o.(*corev1.Service)
		if svc.Namespace == ns && svc.Name == name {
			continue
		}
		for _, ip := range svc.Spec.ClusterIPs {
			ips[ip] = true
		}
		ips[svc.Spec.ClusterIP] = true
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				ports[p.NodePort] = true
			}
		}
	}
	return ips, ports
}

// nextFreeIP returns the lowest free address in the service range after the network address.
func (s *Server) nextFreeIP(used map[string]bool) (string, error) {
	base := s.cfg.ServiceCIDR.IP.To4()
	if base == nil {
		return "", fmt.Errorf("service CIDR %s is not IPv4", s.cfg.ServiceCIDR)
	}
	ones, bits := s.cfg.ServiceCIDR.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	start := binary.BigEndian.Uint32(base)
	for i := uint32(1); i < size-1; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, start+i)
		if !used[ip.String()] {
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("range %s is full", s.cfg.ServiceCIDR)
}

// firstServiceIP is the address the kubernetes Service gets.
func (s *Server) firstServiceIP() string {
	base := s.cfg.ServiceCIDR.IP.To4()
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(base)+1)
	return ip.String()
}

func (s *Server) freeNodePort(used, mine map[int32]bool) (int32, error) {
	n := s.cfg.NodePortMax - s.cfg.NodePortMin + 1
	off := rand.IntN(n)
	for i := 0; i < n; i++ {
		p := int32(s.cfg.NodePortMin + (off+i)%n)
		if !used[p] && !mine[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free NodePort in %d-%d", s.cfg.NodePortMin, s.cfg.NodePortMax)
}
