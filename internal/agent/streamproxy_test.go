package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStreamContainer(t *testing.T) {
	pod := func(names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init"}}}}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	tests := []struct {
		name, container string
		pod             *corev1.Pod
		want, wantErr   string
	}{
		{name: "the only container by default", pod: pod("app"), want: "app"},
		{name: "the one named", pod: pod("app", "side"), container: "side", want: "side"},
		{name: "an init container by name", pod: pod("app"), container: "init", want: "init"},
		{name: "two containers and none named", pod: pod("app", "side"),
			wantErr: "a container name must be specified for pod p, choose one of: [init app side]"},
		{name: "a container the pod does not have", pod: pod("app"), container: "nope", wantErr: "container nope is not valid for pod p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := streamContainer(tt.pod, tt.container)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
