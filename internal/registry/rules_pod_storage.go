package registry

import (
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// What upstream's pod storage (pkg/registry/core/pod/storage) does beyond the strategy: graceful
// deletion, binding, and where the proxy subresource goes.

var podsGR = schema.GroupResource{Resource: "pods"}

// podGracePeriod is upstream's pod CheckGracefulDelete: the grace period is the request's, else
// the pod's terminationGracePeriodSeconds, else 30 s, and a negative one is 1 s. A pod that no
// node runs (unscheduled, or already finished) goes at once, and so does one deleted with a
// grace period of 0.
func podGracePeriod(pod *corev1.Pod, opts *metav1.DeleteOptions) (int64, bool) {
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	if grace == 0 {
		return 0, false
	}
	if grace < 0 {
		grace = 1
	}
	return grace, true
}

// bindPod assigns pod to the binding's node (pods/binding), as upstream's BindingREST does: a pod
// being deleted or already bound cannot be, and the binding's annotations are copied to the pod.
func bindPod(pod *corev1.Pod, b *corev1.Binding) error {
	if b.Target.Name == "" {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name,
			field.ErrorList{field.Invalid(field.NewPath("target", "name"), "", "must not be empty")})
	}
	if pod.DeletionTimestamp != nil {
		return apierrors.NewConflict(podsGR, pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
	}
	if b.UID != "" && b.UID != pod.UID {
		return apierrors.NewConflict(podsGR, pod.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
	}
	if pod.Spec.NodeName != "" {
		return apierrors.NewConflict(podsGR, pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
	}
	pod.Spec.NodeName = b.Target.Name
	setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	for k, v := range b.Annotations {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[k] = v
	}
	return nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			if pod.Status.Conditions[i].Status != c.Status {
				pod.Status.Conditions[i] = c
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// podProxyTarget is the pod IP and port (a number, a container port's name, or "" for the first
// container port) that pods/NAME[:PORT]/proxy forwards to.
func podProxyTarget(pod *corev1.Pod, port string, _ Getter) (string, error) {
	if pod.Status.PodIP == "" {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP yet", pod.Name))
	}
	p, err := resolvePodPort(pod, port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(p)), nil
}

func resolvePodPort(pod *corev1.Pod, port string) (int, error) {
	if port == "" {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				return int(p.ContainerPort), nil
			}
		}
		return 80, nil
	}
	if n, err := strconv.Atoi(port); err == nil {
		return n, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, apierrors.NewBadRequest(fmt.Sprintf("pod %s has no port named %q", pod.Name, port))
}
