package deployment

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// deploy builds a RollingUpdate Deployment of replicas with the given
// maxSurge and maxUnavailable ("25%", "1", ...).
func deploy(replicas int32, surge, unavailable string) *appsv1.Deployment {
	s, u := intstr.Parse(surge), intstr.Parse(unavailable)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia", Namespace: "default", UID: "d-uid"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
			Template: template("luksa/kubia:v1"),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u},
			},
		},
	}
}

func recreate(replicas int32) *appsv1.Deployment {
	d := deploy(replicas, "0", "0")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	return d
}

func template(image string) v1.PodTemplateSpec {
	return v1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "nodejs", Image: image}}},
	}
}

type rsOpt func(*appsv1.ReplicaSet)

// rs builds a ReplicaSet created age ago, wanting spec replicas of which
// available are available (and running).
func rs(name string, spec, available int32, age time.Duration, opts ...rsOpt) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0.Add(-age))},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(spec), Template: template("luksa/kubia:" + name)},
		Status:     appsv1.ReplicaSetStatus{Replicas: spec, AvailableReplicas: available, ReadyReplicas: available},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func annotated(k, v string) rsOpt {
	return func(r *appsv1.ReplicaSet) {
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations[k] = v
	}
}

func rev(n int) rsOpt { return annotated(RevisionAnnotation, strconv.Itoa(n)) }

func maxReplicasWas(n int) rsOpt { return annotated(MaxReplicasAnnotation, strconv.Itoa(n)) }

func running(n int32) rsOpt { return func(r *appsv1.ReplicaSet) { r.Status.Replicas = n } }

// sizes renders steps as "name=replicas" for comparison.
func sizes(steps []scaleStep) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.rs.Name+"="+strconv.Itoa(int(s.replicas)))
	}
	return out
}
