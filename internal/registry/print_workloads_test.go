package registry

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func tableTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "web", Image: "nginx:1.27"}, {Name: "log", Image: "busybox"},
	}}}
}

func TestDeploymentRow(t *testing.T) {
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want []interface{}
	}{
		{name: "deployment prints 2/3 ready",
			d: &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: tableAgo(2 * time.Hour)},
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: tableTemplate(),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
			},
			want: []interface{}{"web", "2/3", int64(3), int64(2), "120m", "web,log", "nginx:1.27,busybox", "app=web"}},
		{name: "deployment without replicas prints the default of 1",
			d:    &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "one"}},
			want: []interface{}{"one", "0/1", int64(0), int64(0), "<unknown>", "", "", ""}},
		{name: "invalid selector prints <invalid>",
			d: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}}},
			want: []interface{}{"bad", "0/0", int64(0), int64(0), "<unknown>", "", "", "<invalid>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, deploymentRow(tt.d, tableNow()), tt.want)
		})
	}
}

func TestReplicaSetRow(t *testing.T) {
	tests := []struct {
		name string
		rs   *appsv1.ReplicaSet
		want []interface{}
	}{
		{name: "replicaset prints desired, current and ready counts",
			rs: &appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: "web-5d4f", CreationTimestamp: tableAgo(3 * 24 * time.Hour)},
				Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3), Template: tableTemplate(),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "5d4f"}}},
				Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
			},
			want: []interface{}{"web-5d4f", int64(3), int64(3), int64(1), "3d", "web,log", "nginx:1.27,busybox", "app=web,pod-template-hash=5d4f"}},
		{name: "replicaset without a selector prints <none>",
			rs:   &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0)}},
			want: []interface{}{"bare", int64(0), int64(0), int64(0), "<unknown>", "", "", "<none>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, replicaSetRow(tt.rs, tableNow()), tt.want)
		})
	}
	fields := replicaSetPrinter().fields(&appsv1.ReplicaSet{Status: appsv1.ReplicaSetStatus{Replicas: 4}})
	if got := fields["status.replicas"]; got != "4" {
		t.Errorf("status.replicas field = %q, want 4", got)
	}
}

func TestReplicationControllerRow(t *testing.T) {
	tmpl := tableTemplate()
	tests := []struct {
		name string
		rc   *corev1.ReplicationController
		want []interface{}
	}{
		{name: "replication controller prints its counts and map selector",
			rc: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: "frontend", CreationTimestamp: tableAgo(30 * time.Second)},
				Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](2), Selector: map[string]string{"app": "frontend"}, Template: &tmpl},
				Status:     corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 2},
			},
			want: []interface{}{"frontend", int64(2), int64(2), int64(2), "30s", "web,log", "nginx:1.27,busybox", "app=frontend"}},
		{name: "replication controller without template or selector",
			rc:   &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](1)}},
			want: []interface{}{"empty", int64(1), int64(0), int64(0), "<unknown>", "", "", "<none>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, replicationControllerRow(tt.rc, tableNow()), tt.want)
		})
	}
	fields := replicationControllerPrinter().fields(&corev1.ReplicationController{Status: corev1.ReplicationControllerStatus{Replicas: 2}})
	if got := fields["status.replicas"]; got != "2" {
		t.Errorf("status.replicas field = %q, want 2", got)
	}
}

func TestControllerRevisionRow(t *testing.T) {
	owned := func(apiVersion, kind string) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "web-7b9c", CreationTimestamp: tableAgo(time.Minute),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: "web", Controller: ptr.To(true)}}},
			Revision: 2,
		}
	}
	tests := []struct {
		name string
		cr   *appsv1.ControllerRevision
		want []interface{}
	}{
		{name: "revision of a statefulset prints statefulset.apps/web",
			cr:   owned("apps/v1", "StatefulSet"),
			want: []interface{}{"web-7b9c", "statefulset.apps/web", int64(2), "60s"}},
		{name: "controller in the core group prints kind/name",
			cr:   owned("v1", "Pod"),
			want: []interface{}{"web-7b9c", "pod/web", int64(2), "60s"}},
		{name: "unparsable apiVersion prints the bare name",
			cr:   owned("a/b/c", "Thing"),
			want: []interface{}{"web-7b9c", "web", int64(2), "60s"}},
		{name: "revision without a controller prints <none>",
			cr:   &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "orphan"}, Revision: 1},
			want: []interface{}{"orphan", "<none>", int64(1), "<unknown>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, controllerRevisionRow(tt.cr, tableNow()), tt.want)
		})
	}
}
