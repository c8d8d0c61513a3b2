package registry

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamespaceCreate(t *testing.T) {
	tests := []struct {
		name  string
		ns    *corev1.Namespace
		check func(*corev1.Namespace) bool
		want  []string
	}{
		{"namespace gets the kubernetes finalizer, phase Active and its name label",
			&corev1.Namespace{ObjectMeta: metaOf("team-a", "", nil)},
			func(ns *corev1.Namespace) bool {
				return slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"}) &&
					ns.Status.Phase == corev1.NamespaceActive && ns.Labels[corev1.LabelMetadataName] == "team-a"
			}, nil},
		{"status phase from the client is ignored",
			&corev1.Namespace{ObjectMeta: metaOf("team-a", "", nil), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			func(ns *corev1.Namespace) bool { return ns.Status.Phase == corev1.NamespaceActive }, nil},
		{"name must be a DNS label",
			&corev1.Namespace{ObjectMeta: metaOf("team.a", "", nil)},
			func(*corev1.Namespace) bool { return true },
			[]string{"metadata.name: Invalid value: must not contain dots"}},
		{"namespaces have no namespace",
			&corev1.Namespace{ObjectMeta: metaOf("team-a", "default", nil)},
			func(*corev1.Namespace) bool { return true },
			[]string{"metadata.namespace: Forbidden: not allowed on this type"}},
		{"unknown unqualified finalizer",
			&corev1.Namespace{ObjectMeta: metaOf("team-a", "", nil), Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"mine"}}},
			func(*corev1.Namespace) bool { return true },
			[]string{"spec.finalizers: Invalid value: name is neither a standard finalizer name nor is it fully qualified"}},
	}
	r := rulesOf(t, "", "namespaces")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRuleErrs(t, runCreate(r, tt.ns), tt.want)
			if !tt.check(tt.ns) {
				t.Errorf("unexpected result %+v", tt.ns)
			}
		})
	}
}

func TestNamespaceUpdates(t *testing.T) {
	r := rulesOf(t, "", "namespaces")
	old := &corev1.Namespace{ObjectMeta: metaOf("team-a", "", nil)}
	runCreate(r, old)
	markStored(&old.ObjectMeta)

	ns := old.DeepCopy()
	ns.Spec.Finalizers = nil
	ns.Status.Phase = corev1.NamespaceTerminating
	checkRuleErrs(t, runUpdate(r, ns, old), nil)
	if len(ns.Spec.Finalizers) != 1 || ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("update changed finalizers or status: %+v", ns)
	}

	ns = old.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	checkRuleErrs(t, runStatusUpdate(r, ns, old), []string{
		"status.Phase: Invalid value: may only be 'Active' if `deletionTimestamp` is empty"})

	deleting := old.DeepCopy()
	deleting.DeletionTimestamp = new(metav1.Unix(1700000100, 0))
	ns = deleting.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	checkRuleErrs(t, runStatusUpdate(r, ns, deleting), nil)
}
