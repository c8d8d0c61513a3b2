package apiserver_test

import (
	"context"
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fixtures are made through client-go over the loopback config, as any client would make them.

func (s *apiServer) namespace(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	ns, err := s.client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return ns
}

// terminatingNamespace creates a namespace and deletes it; with its "kubernetes" spec finalizer
// still in place it stays, Terminating.
func (s *apiServer) terminatingNamespace(t *testing.T, name string) {
	t.Helper()
	s.namespace(t, name)
	s.mustDo(t, http.MethodDelete, "/api/v1/namespaces/"+name, "", "")
}

func (s *apiServer) configMap(t *testing.T, ns, name string, mutate ...func(*corev1.ConfigMap)) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"a": "1"}}
	for _, m := range mutate {
		m(cm)
	}
	cm, err := s.client.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create configmap %s/%s: %v", ns, name, err)
	}
	return cm
}

func withLabels(kv ...string) func(*corev1.ConfigMap) {
	return func(cm *corev1.ConfigMap) {
		cm.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			cm.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withFinalizers(f ...string) func(*corev1.ConfigMap) {
	return func(cm *corev1.ConfigMap) { cm.Finalizers = f }
}

// updateConfigMap writes a new value of data key "a", so that the first resourceVersion is stale.
func (s *apiServer) updateConfigMap(t *testing.T, cm *corev1.ConfigMap, value string) *corev1.ConfigMap {
	t.Helper()
	cm = cm.DeepCopy()
	cm.Data["a"] = value
	out, err := s.client.CoreV1().ConfigMaps(cm.Namespace).Update(context.Background(), cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update configmap %s: %v", cm.Name, err)
	}
	return out
}

// pod creates a pod in ns; a non-empty node binds it there at creation.
func (s *apiServer) pod(t *testing.T, ns, name, node string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "registry.example/app:1"}},
		},
	}
	p, err := s.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	return p
}

func (s *apiServer) deployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	replicas := int32(1)
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "c", Image: "registry.example/app:1",
					Env: []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
				}}},
			},
		},
	}
	d, err := s.client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
	return d
}

func (s *apiServer) lease(t *testing.T, ns, name string) *coordinationv1.Lease {
	t.Helper()
	holder := "a"
	l, err := s.client.CoordinationV1().Leases(ns).Create(context.Background(),
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create lease %s/%s: %v", ns, name, err)
	}
	return l
}

// vars makes a case's placeholder values from an object's identity.
func vars(m metav1.Object) map[string]string {
	return map[string]string{"name": m.GetName(), "uid": string(m.GetUID()), "rv": m.GetResourceVersion()}
}
