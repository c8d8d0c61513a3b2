package podcontrol

import (
	"context"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Event reasons, as upstream records them.
const (
	FailedCreateReason     = "FailedCreate"
	SuccessfulCreateReason = "SuccessfulCreate"
	FailedDeleteReason     = "FailedDelete"
	SuccessfulDeleteReason = "SuccessfulDelete"
)

// Control talks to the API server about pods on behalf of a controller.
type Control struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

// New returns a Control that writes through client and records events with
// recorder.
func New(client kubernetes.Interface, recorder record.EventRecorder) *Control {
	return &Control{client: client, recorder: recorder}
}

// Create creates one pod from template, controlled by controllerRef, and
// records SuccessfulCreate or FailedCreate on owner.
func (c *Control) Create(ctx context.Context, namespace string, template *v1.PodTemplateSpec, owner *v1.ObjectReference, controllerRef *metav1.OwnerReference) error {
	pod, err := FromTemplate(template, owner.Name, controllerRef)
	if err != nil {
		return err
	}
	created, err := c.client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		// A terminating namespace refuses every create; no point saying so per pod.
		if !apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
			c.recorder.Eventf(owner, v1.EventTypeWarning, FailedCreateReason, "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(owner, v1.EventTypeNormal, SuccessfulCreateReason, "Created pod: %v", created.Name)
	return nil
}

// Delete deletes the pod namespace/name and records SuccessfulDelete or
// FailedDelete on owner. A pod already gone is reported as NotFound without
// an event.
func (c *Control) Delete(ctx context.Context, namespace, name string, owner *v1.ObjectReference) error {
	err := c.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(owner, v1.EventTypeWarning, FailedDeleteReason, "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.recorder.Eventf(owner, v1.EventTypeNormal, SuccessfulDeleteReason, "Deleted pod: %v", name)
	return nil
}

// Patch applies a strategic merge patch to the pod namespace/name.
func (c *Control) Patch(ctx context.Context, namespace, name string, patch []byte) error {
	_, err := c.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}

// FromTemplate builds the pod a controller named ownerName creates from
// template: the template's labels, annotations, finalizers and spec, a
// generateName of "<ownerName>-" and controllerRef as its only owner.
func FromTemplate(template *v1.PodTemplateSpec, ownerName string, controllerRef *metav1.OwnerReference) (*v1.Pod, error) {
	if len(template.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	if controllerRef != nil && (controllerRef.Controller == nil || !*controllerRef.Controller) {
		return nil, errors.New("controllerRef.Controller must be true")
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(ownerName),
			Labels:       copyMap(template.Labels),
			Annotations:  copyMap(template.Annotations),
			Finalizers:   append([]string(nil), template.Finalizers...),
		},
		Spec: *template.Spec.DeepCopy(),
	}
	if controllerRef != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*controllerRef}
	}
	return pod, nil
}

// generateName uses "<name>-" when that is a valid name prefix, which makes
// pod names read better, and the bare name otherwise.
func generateName(ownerName string) string {
	prefix := ownerName + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return ownerName
	}
	return prefix
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
