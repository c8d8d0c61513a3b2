package agent

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct{ name, in, want string }{
		{"defined variable", "x$(A)y", "xay"},
		{"two variables", "$(A)$(B)", "ab"},
		{"undefined stays as written", "$(C)", "$(C)"},
		{"$$ escapes", "$$(A)", "$(A)"},
		{"lone dollar", "cost $5", "cost $5"},
		{"unterminated", "$(A", "$(A"},
		{"trailing dollar", "a$", "a$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expand(tt.in, lookup); got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestContainerEnv(t *testing.T) {
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"sleep-interval": "25"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "default"}, Data: map[string][]byte{"pw": []byte("s3cret")}},
	)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "fortune", Namespace: "default", UID: "u1"},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{PodIP: "127.64.0.5"},
	}
	yes := true
	c := &corev1.Container{
		Name:  "html-generator",
		Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		Env: []corev1.EnvVar{
			{Name: "INTERVAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "sleep-interval"}}},
			{Name: "MSG", Value: "every $(INTERVAL)s on $(NODE)"},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "pw"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k", Optional: &yes}}},
		},
	}
	env, err := containerEnv(context.Background(), &envSource{client: client}, pod, c, []string{"IMG=1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HOSTNAME=fortune", "POD_IP=127.64.0.5", "PORT=8080", "IMG=1", "INTERVAL=25",
		"MSG=every 25s on $(NODE)", "NODE=n1", "PW=s3cret"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %v", want, env)
		}
	}
	for _, kv := range env {
		if len(kv) > 4 && kv[:4] == "OPT=" {
			t.Errorf("optional missing configmap set %q", kv)
		}
	}

	c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}}}
	if _, err := containerEnv(context.Background(), &envSource{client: client}, pod, c, nil, nil); err == nil || err.Error() != `configmap "nope" not found` {
		t.Errorf("missing configmap: err %v", err)
	}
}
