package endpoints

import (
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// podReady reports whether the pod's Ready condition is True.
func podReady(pod *corev1.Pod) bool {
	c := readyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// podIP is the pod's primary IP, "" when it has none yet.
func podIP(pod *corev1.Pod) string {
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return ""
}

// includePod reports whether pod belongs in a Service's endpoints at all: it has an IP, has not
// finished (Succeeded or Failed), and is not terminating unless includeTerminating.
func includePod(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if podIP(pod) == "" {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// hostnameFor is the hostname a pod's endpoint carries for svc: the pod's spec.hostname when its
// spec.subdomain names the Service.
func hostnameFor(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

// findPort resolves a Service port's targetPort on pod: a number is used as it is; a name is
// looked up among the ports of the pod's containers (then of its sidecar init containers) with
// the same protocol.
func findPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	switch sp.TargetPort.Type {
	case intstr.Int:
		if sp.TargetPort.IntVal == 0 {
			// The API server defaults targetPort to port; an unset one means the same here.
			return sp.Port, nil
		}
		return sp.TargetPort.IntVal, nil
	case intstr.String:
		name := sp.TargetPort.StrVal
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		match := func(cs []corev1.Container, sidecarsOnly bool) (int32, bool) {
			for _, c := range cs {
				if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
					continue
				}
				for _, p := range c.Ports {
					pp := p.Protocol
					if pp == "" {
						pp = corev1.ProtocolTCP
					}
					if p.Name == name && pp == proto {
						return p.ContainerPort, true
					}
				}
			}
			return 0, false
		}
		if port, ok := match(pod.Spec.Containers, false); ok {
			return port, nil
		}
		if port, ok := match(pod.Spec.InitContainers, true); ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("pod %s/%s has no %s port named %q", pod.Namespace, pod.Name, sp.Protocol, sp.TargetPort.String())
}

// podTriggerTime is when the last change to pod that moves its endpoints happened: its Ready
// condition's last transition, or the moment its deletion was requested if that is later (the
// deletionTimestamp lies the grace period in the future).
func podTriggerTime(pod *corev1.Pod) time.Time {
	var t time.Time
	if c := readyCondition(pod); c != nil {
		t = c.LastTransitionTime.Time
	}
	if pod.DeletionTimestamp != nil {
		del := pod.DeletionTimestamp.Time
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			del = del.Add(-time.Duration(*g) * time.Second)
		}
		if del.After(t) {
			t = del
		}
	}
	return t
}

// podEndpointsChanged reports whether a pod update can change any endpoint built from it (labels
// are compared separately: they change which Services select it).
func podEndpointsChanged(old, cur *corev1.Pod) bool {
	switch {
	case podIP(old) != podIP(cur),
		podReady(old) != podReady(cur),
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil),
		old.Status.Phase != cur.Status.Phase,
		old.Spec.NodeName != cur.Spec.NodeName,
		old.Spec.Hostname != cur.Spec.Hostname,
		old.Spec.Subdomain != cur.Spec.Subdomain:
		return true
	}
	return false
}

// labelsChanged reports whether the pod's labels differ.
func labelsChanged(old, cur *corev1.Pod) bool { return !maps.Equal(old.Labels, cur.Labels) }
