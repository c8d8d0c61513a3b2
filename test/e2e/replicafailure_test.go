package e2e

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestReplicaFailureWhenQuotaRefusesPods: when a ResourceQuota refuses a ReplicaSet's pod
// creates, the ReplicaSet gets upstream's ReplicaFailure condition (FailedCreate, with the
// refusal) and its Deployment mirrors it; both go when the creates succeed again.
func TestReplicaFailureWhenQuotaRefusesPods(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--runtime", "none")
	c := s.client()
	ctx := context.Background()
	quotas := c.CoreV1().ResourceQuotas("default")
	if _, err := quotas.Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the quota controller to acknowledge the quota", func() bool {
		q, err := quotas.Get(ctx, "pods", metav1.GetOptions{})
		return err == nil && q.Status.Hard != nil
	})
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(3)), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "luksa/kubia:v1"}}}}}}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var rsFailure, dFailure *metav1.Condition
	eventually(t, 30*time.Second, "ReplicaFailure on the ReplicaSet and the Deployment", func() bool {
		rsFailure, dFailure = nil, nil
		rss, err := c.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(rss.Items) != 1 {
			return false
		}
		for _, cond := range rss.Items[0].Status.Conditions {
			if cond.Type == appsv1.ReplicaSetReplicaFailure && cond.Status == corev1.ConditionTrue {
				rsFailure = &metav1.Condition{Reason: cond.Reason, Message: cond.Message}
			}
		}
		got, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == appsv1.DeploymentReplicaFailure && cond.Status == corev1.ConditionTrue {
				dFailure = &metav1.Condition{Reason: cond.Reason, Message: cond.Message}
			}
		}
		return rsFailure != nil && dFailure != nil
	})
	if rsFailure.Reason != "FailedCreate" || dFailure.Reason != "FailedCreate" {
		t.Errorf("reasons: ReplicaSet %q, Deployment %q; want FailedCreate", rsFailure.Reason, dFailure.Reason)
	}
	contains(t, "the ReplicaSet's ReplicaFailure message", rsFailure.Message, "exceeded quota")
	contains(t, "the Deployment's ReplicaFailure message", dFailure.Message, "exceeded quota")

	if err := quotas.Delete(ctx, "pods", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "ReplicaFailure to go once the pods can be created", func() bool {
		got, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == appsv1.DeploymentReplicaFailure {
				return false
			}
		}
		return got.Status.Replicas == 3
	})
}
