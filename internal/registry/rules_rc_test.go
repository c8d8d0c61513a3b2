package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// validRC is a replication controller "web" whose selector comes from its template.
func validRC() *corev1.ReplicationController {
	t := validPodTemplate()
	return &corev1.ReplicationController{
		ObjectMeta: metaOf("web", "default", nil),
		Spec:       corev1.ReplicationControllerSpec{Template: &t},
	}
}

func TestReplicationControllerRules(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*corev1.ReplicationController)
		check func(*corev1.ReplicationController) bool
		want  []string
	}{
		{"selector, labels and replicas default from the template", nil,
			func(rc *corev1.ReplicationController) bool {
				return rc.Spec.Selector["app"] == "web" && rc.Labels["app"] == "web" && *rc.Spec.Replicas == 1 && rc.Generation == 1
			}, nil},
		{"explicit selector and labels are kept",
			func(rc *corev1.ReplicationController) {
				rc.Labels = map[string]string{"tier": "front"}
				rc.Spec.Selector = map[string]string{"app": "web"}
				rc.Spec.Template.Labels["v"] = "1"
			},
			func(rc *corev1.ReplicationController) bool {
				return len(rc.Spec.Selector) == 1 && rc.Labels["tier"] == "front"
			}, nil},
		{"selector not matching template labels",
			func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"app": "db"} },
			func(*corev1.ReplicationController) bool { return true },
			[]string{"spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"}},
		{"template is required",
			func(rc *corev1.ReplicationController) { rc.Spec.Template = nil },
			func(*corev1.ReplicationController) bool { return true },
			[]string{"spec.selector: Required value", "spec.template: Required value"}},
		{"activeDeadlineSeconds is not supported",
			func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(5)) },
			func(*corev1.ReplicationController) bool { return true },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"}},
		{"negative replicas",
			func(rc *corev1.ReplicationController) { rc.Spec.Replicas = new(int32(-2)) },
			func(*corev1.ReplicationController) bool { return true },
			[]string{"spec.replicas: Invalid value: must be greater than or equal to 0"}},
	}
	r := rulesOf(t, "", "replicationcontrollers")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := validRC()
			if tt.edit != nil {
				tt.edit(rc)
			}
			checkRuleErrs(t, runCreate(r, rc), tt.want)
			if !tt.check(rc) {
				t.Errorf("unexpected result %+v", rc)
			}
		})
	}
}

func TestReplicationControllerUpdate(t *testing.T) {
	tests := []struct {
		name           string
		edit           func(*corev1.ReplicationController)
		wantGeneration int64
	}{
		{"scaling bumps generation", func(rc *corev1.ReplicationController) { rc.Spec.Replicas = new(int32(3)) }, 2},
		{"selector may change", func(rc *corev1.ReplicationController) {
			rc.Spec.Selector = map[string]string{"app": "web", "v": "2"}
			rc.Spec.Template.Labels["v"] = "2"
		}, 2},
		{"annotations do not bump generation", func(rc *corev1.ReplicationController) {
			rc.Annotations = map[string]string{"a": "b"}
		}, 1},
	}
	r := rulesOf(t, "", "replicationcontrollers")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validRC()
			runCreate(r, old)
			markStored(&old.ObjectMeta)
			old.Status.Replicas = 1
			rc := old.DeepCopy()
			rc.Status = corev1.ReplicationControllerStatus{}
			tt.edit(rc)
			checkRuleErrs(t, runUpdate(r, rc, old), nil)
			if rc.Generation != tt.wantGeneration || rc.Status.Replicas != 1 {
				t.Errorf("generation %d status %+v, want generation %d and the stored status", rc.Generation, rc.Status, tt.wantGeneration)
			}
		})
	}
}

// validReplicaSet is a replica set "web" selecting app=web.
func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metaOf("web", "default", nil),
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: validPodTemplate(),
		},
	}
}

func TestReplicaSetRules(t *testing.T) {
	tests := []struct {
		name           string
		edit           func(*appsv1.ReplicaSet)
		wantGeneration int64
		want           []string
	}{
		{"scaling bumps generation", func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = new(int32(4)) }, 2, nil},
		{"label change keeps generation", func(rs *appsv1.ReplicaSet) { rs.Labels = map[string]string{"a": "b"} }, 1, nil},
		{"selector change on update is immutable",
			func(rs *appsv1.ReplicaSet) {
				rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
				rs.Spec.Template.Labels["v"] = "2"
			}, 2,
			[]string{"spec.selector: Invalid value: field is immutable"}},
		{"template activeDeadlineSeconds is not supported",
			func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(5)) }, 2,
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"}},
	}
	r := rulesOf(t, "apps", "replicasets")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validReplicaSet()
			checkRuleErrs(t, runCreate(r, old), nil)
			if *old.Spec.Replicas != 1 || old.Generation != 1 {
				t.Fatalf("created %+v", old)
			}
			markStored(&old.ObjectMeta)
			rs := old.DeepCopy()
			tt.edit(rs)
			checkRuleErrs(t, runUpdate(r, rs, old), tt.want)
			if rs.Generation != tt.wantGeneration {
				t.Errorf("generation = %d, want %d", rs.Generation, tt.wantGeneration)
			}
		})
	}
}

func TestReplicaSetStatusUpdateKeepsSpec(t *testing.T) {
	r := rulesOf(t, "apps", "replicasets")
	old := validReplicaSet()
	runCreate(r, old)
	markStored(&old.ObjectMeta)
	rs := old.DeepCopy()
	rs.Spec.Replicas = new(int32(7))
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 2}
	checkRuleErrs(t, runStatusUpdate(r, rs, old), []string{"status.readyReplicas: Invalid value: cannot be greater than status.replicas"})
	if *rs.Spec.Replicas != 1 {
		t.Errorf("spec.replicas = %d, want the stored 1", *rs.Spec.Replicas)
	}
}
