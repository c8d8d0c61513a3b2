package podcontrol

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestFromTemplate(t *testing.T) {
	isController := true
	ref := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "kubia-74967b5695", UID: "u", Controller: &isController}
	template := &v1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Name: "ignored", Labels: map[string]string{"app": "kubia"}, Annotations: map[string]string{"a": "b"}},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
	}
	tests := []struct {
		name      string
		template  *v1.PodTemplateSpec
		owner     string
		wantGen   string
		wantError bool
	}{
		{name: "pods are named after their owner with a dash", template: template, owner: "kubia-74967b5695", wantGen: "kubia-74967b5695-"},
		{name: "a template without labels is refused", template: &v1.PodTemplateSpec{}, owner: "x", wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, err := FromTemplate(tt.template, tt.owner, ref)
			if (err != nil) != tt.wantError {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if pod.GenerateName != tt.wantGen || pod.Name != "" {
				t.Errorf("name %q generateName %q, want generateName %q", pod.Name, pod.GenerateName, tt.wantGen)
			}
			if pod.Labels["app"] != "kubia" || pod.Annotations["a"] != "b" || pod.Spec.Containers[0].Image != "luksa/kubia:v1" {
				t.Errorf("pod does not carry the template: %+v", pod)
			}
			if got := metav1.GetControllerOf(pod); got == nil || got.UID != "u" {
				t.Errorf("controller ref = %v", got)
			}
			pod.Labels["app"] = "changed"
			if template.Labels["app"] != "kubia" {
				t.Error("pod shares its labels map with the template")
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	isController := true
	owned := func(name, ns, uid string) *v1.Pod {
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: []metav1.OwnerReference{{UID: "x", Controller: &isController}}}}
	}
	mine := owned("mine", "default", "x")
	orphan := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default"}}
	elsewhere := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "other"}}
	theirs := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "default", OwnerReferences: []metav1.OwnerReference{{UID: "y", Controller: &isController}}}}

	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{ControllerIndex: indexByController})
	for _, p := range []*v1.Pod{mine, orphan, elsewhere, theirs} {
		if err := indexer.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Candidates(indexer, "default", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != mine || got[1] != orphan {
		t.Errorf("Candidates = %v, want [mine orphan]", got)
	}
}
