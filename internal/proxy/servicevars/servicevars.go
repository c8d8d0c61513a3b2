package servicevars

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// masterService is the Service whose variables every pod gets, even with service links off.
const masterService = "kubernetes"

// EnvFor returns the service environment variables for pod's containers, given every Service
// the node knows: those of the Services in the pod's namespace when the pod's enableServiceLinks
// is true or unset, and always those of the "kubernetes" Service in "default" (a Service of the
// same name in the pod's namespace takes its place). Services without a cluster IP (headless,
// ExternalName, not yet allocated) give none. Variables come grouped per Service, Services in
// name order, each group in the kubelet's order. As in the kubelet, a container's own env entries
// of the same name take precedence; the caller applies them after these.
func EnvFor(services []*corev1.Service, pod *corev1.Pod) []corev1.EnvVar {
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	for _, svc := range services {
		if !ipSet(svc) {
			continue
		}
		if svc.Namespace == "default" && svc.Name == masterService {
			if _, ok := chosen[svc.Name]; !ok {
				chosen[svc.Name] = svc
			}
		} else if svc.Namespace == pod.Namespace && links {
			chosen[svc.Name] = svc
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []corev1.EnvVar
	for _, n := range names {
		out = append(out, forService(chosen[n])...)
	}
	return out
}

// forService is one Service's variables, in the kubelet's order: <NAME>_SERVICE_HOST,
// <NAME>_SERVICE_PORT, <NAME>_SERVICE_PORT_<PORTNAME> for each named port, then the Docker link
// variables.
func forService(svc *corev1.Service) []corev1.EnvVar {
	if len(svc.Spec.Ports) == 0 {
		return nil
	}
	prefix := varName(svc.Name)
	ip := svc.Spec.ClusterIP
	out := []corev1.EnvVar{
		{Name: prefix + "_SERVICE_HOST", Value: ip},
		{Name: prefix + "_SERVICE_PORT", Value: strconv.Itoa(int(svc.Spec.Ports[0].Port))},
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Name != "" {
			out = append(out, corev1.EnvVar{Name: prefix + "_SERVICE_PORT_" + varName(sp.Name), Value: strconv.Itoa(int(sp.Port))})
		}
	}
	return append(out, linkVars(prefix, ip, svc.Spec.Ports)...)
}

// linkVars are the Docker link variables: <NAME>_PORT for the first port, and per port
// <NAME>_PORT_<port>_<PROTO> with _PROTO, _PORT and _ADDR.
func linkVars(prefix, ip string, ports []corev1.ServicePort) []corev1.EnvVar {
	var out []corev1.EnvVar
	for i, sp := range ports {
		proto := string(corev1.ProtocolTCP)
		if sp.Protocol != "" {
			proto = string(sp.Protocol)
		}
		port := strconv.Itoa(int(sp.Port))
		url := strings.ToLower(proto) + "://" + joinHostPort(ip, port)
		if i == 0 {
			out = append(out, corev1.EnvVar{Name: prefix + "_PORT", Value: url})
		}
		p := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		out = append(out,
			corev1.EnvVar{Name: p, Value: url},
			corev1.EnvVar{Name: p + "_PROTO", Value: strings.ToLower(proto)},
			corev1.EnvVar{Name: p + "_PORT", Value: port},
			corev1.EnvVar{Name: p + "_ADDR", Value: ip},
		)
	}
	return out
}

// varName turns a Service or port name into a variable name: upper case, dashes as underscores.
func varName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

func ipSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

// joinHostPort brackets IPv6 addresses, as net.JoinHostPort does.
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}
