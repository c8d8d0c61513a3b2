package registry

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	verbsAll      = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	verbsNoDelCol = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
)

// All returns every resource skiff serves, in discovery order.
func All() []*Resource {
	return []*Resource{
		namespaceKind().Resource(),
		podKind().Resource(),
		serviceKind().Resource(),
		endpointsKind().Resource(),
		eventKind().Resource(),
		nodeKind().Resource(),
		replicationControllerKind().Resource(),
		configMapKind().Resource(),
		secretKind().Resource(),
		resourceQuotaKind().Resource(),
		serviceAccountKind().Resource(),
		deploymentKind().Resource(),
		replicaSetKind().Resource(),
		controllerRevisionKind().Resource(),
		endpointSliceKind().Resource(),
		leaseKind().Resource(),
		selfSubjectReviewKind().Resource(),
		selfSubjectAccessReviewKind().Resource(),
		selfSubjectRulesReviewKind().Resource(),
		subjectAccessReviewKind().Resource(),
		nodeMetricsKind().Resource(),
		podMetricsKind().Resource(),
	}
}

func core(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Version: "v1", Resource: resource}
}

func apps(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: resource}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// scaleOf builds the autoscaling/v1 Scale of an object with the given replicas.
func scaleOf(meta metav1.ObjectMeta, spec *int32, status int32, selector string) *autoscalingv1.Scale {
	replicas := int32(1)
	if spec != nil {
		replicas = *spec
	}
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: meta.Namespace, UID: meta.UID,
			ResourceVersion: meta.ResourceVersion, CreationTimestamp: meta.CreationTimestamp},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}
