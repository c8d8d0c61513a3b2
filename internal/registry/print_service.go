package registry

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// listedMax is how many endpoints or ports a cell lists before "+ N more...".
const listedMax = 3

func servicePrinter() printer {
	return printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Type", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["type"]},
			{Name: "Cluster-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]},
			{Name: "External-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]},
			{Name: "Port(s)", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["ports"]},
			ageColumn(),
			{Name: "Selector", Type: "string", Priority: 1, Description: corev1.ServiceSpec{}.SwaggerDoc()["selector"]},
		},
		row: rowFor(serviceRow),
	}
}

// serviceRow prints NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR.
func serviceRow(svc *corev1.Service, now time.Time) []interface{} {
	clusterIP := svc.Spec.ClusterIP
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	return []interface{}{
		svc.Name,
		string(svc.Spec.Type),
		orNone(clusterIP),
		serviceExternalIP(svc),
		orNone(servicePorts(svc.Spec.Ports)),
		age(svc.CreationTimestamp, now),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// serviceExternalIP is EXTERNAL-IP: the external IPs, a load balancer's ingress points
// ("<pending>" until it has some), or an ExternalName service's name. The API server prints
// wide, so long load-balancer lists are not clipped.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		ips := loadBalancerIngress(svc.Status.LoadBalancer)
		ips = append(ips, svc.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	default:
		return "<unknown>"
	}
}

// loadBalancerIngress is the sorted, distinct ingress IPs (or hostnames, for ingress points
// without an IP) of a load balancer.
func loadBalancerIngress(lb corev1.LoadBalancerStatus) []string {
	var points []string
	for _, in := range lb.Ingress {
		switch {
		case in.IP != "":
			points = append(points, in.IP)
		case in.Hostname != "":
			points = append(points, in.Hostname)
		}
	}
	slices.Sort(points)
	return slices.Compact(points)
}

// servicePorts is PORT(S): "80/TCP", or "80:30123/TCP" with a node port, comma separated.
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

func endpointsPrinter() printer {
	return printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
			ageColumn(),
		},
		row: rowFor(func(ep *corev1.Endpoints, now time.Time) []interface{} {
			return []interface{}{ep.Name, endpointsCell(ep.Subsets), age(ep.CreationTimestamp, now)}
		}),
	}
}

// endpointsCell lists the first ready addresses as "ip:port" (one per port of a subset; bare
// IPs for a subset without ports), then "+ N more...". Not-ready addresses are not listed.
func endpointsCell(subsets []corev1.EndpointSubset) string {
	if len(subsets) == 0 {
		return "<none>"
	}
	var list []string
	total := 0
	for _, ss := range subsets {
		if len(ss.Ports) == 0 {
			total += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < listedMax {
					list = append(list, a.IP)
				}
			}
			continue
		}
		for _, p := range ss.Ports {
			total += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < listedMax {
					list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
				}
			}
		}
	}
	cell := strings.Join(list, ",")
	if total > listedMax {
		return fmt.Sprintf("%s + %d more...", cell, total-listedMax)
	}
	return cell
}

func endpointSlicePrinter() printer {
	return printer{
		// Upstream describes these with the discovery/v1beta1 docs; we match it.
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "AddressType", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"]},
			{Name: "Ports", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"]},
			{Name: "Endpoints", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
			ageColumn(),
		},
		row: rowFor(endpointSliceRow),
	}
}

// endpointSliceRow prints NAME ADDRESSTYPE PORTS ENDPOINTS AGE.
func endpointSliceRow(es *discoveryv1.EndpointSlice, now time.Time) []interface{} {
	ports := make([]string, len(es.Ports))
	for i, p := range es.Ports {
		switch {
		case p.Port != nil:
			ports[i] = strconv.Itoa(int(*p.Port))
		case p.Name != nil:
			ports[i] = *p.Name
		default:
			ports[i] = "*"
		}
	}
	var addresses []string
	for _, e := range es.Endpoints {
		addresses = append(addresses, e.Addresses...)
	}
	return []interface{}{
		es.Name,
		string(es.AddressType),
		firstFew(ports),
		firstFew(addresses),
		age(es.CreationTimestamp, now),
	}
}

// firstFew lists up to listedMax items then "+ N more..."; "<unset>" when that is empty.
func firstFew(items []string) string {
	if len(items) > listedMax {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:listedMax], ","), len(items)-listedMax)
	}
	if cell := strings.Join(items, ","); cell != "" {
		return cell
	}
	return "<unset>"
}
