package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// kubiaV3 is the apps/v1beta1 Deployment of the rolling-update chapter: no selector, a readiness
// probe, maxUnavailable 0.
const kubiaV3 = `
apiVersion: apps/v1beta1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 3
  minReadySeconds: 10
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
    type: RollingUpdate
  template:
    metadata:
      name: kubia
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v3
        name: nodejs
        readinessProbe:
          periodSeconds: 1
          httpGet:
            path: /
            port: 8080
`

// v1beta1Alt returns the apps/v1beta1 version of the deployments resource, and the resource.
func v1beta1Alt(t *testing.T) (*Resource, AltVersion) {
	t.Helper()
	r := rulesOf(t, "apps", "deployments")
	for _, v := range r.Versions {
		if v.GroupVersion == appsv1beta1.SchemeGroupVersion {
			return r, v
		}
	}
	t.Fatal("deployments are not served at apps/v1beta1")
	return nil, AltVersion{}
}

// createAtV1beta1 runs a create through apps/v1beta1 the way the server does.
func createAtV1beta1(t *testing.T, manifest string) (*appsv1.Deployment, []string) {
	t.Helper()
	r, alt := v1beta1Alt(t)
	in := alt.New()
	if err := yaml.UnmarshalStrict([]byte(manifest), in); err != nil {
		t.Fatalf("decode: %v", err)
	}
	in.(*appsv1beta1.Deployment).Namespace = "default"
	alt.Default(in)
	obj, err := alt.ToStorage(in)
	if err != nil {
		t.Fatalf("ToStorage: %v", err)
	}
	d := obj.(*appsv1.Deployment)
	return d, errStrings(runCreate(r, d))
}

func TestV1beta1KubiaDeployment(t *testing.T) {
	d, errs := createAtV1beta1(t, kubiaV3)
	if len(errs) != 0 {
		t.Fatalf("validation as apps/v1: %q", errs)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"stored as apps/v1", d.APIVersion == "apps/v1" && d.Kind == "Deployment"},
		{"selector defaulted from template labels to app=kubia",
			d.Spec.Selector != nil && len(d.Spec.Selector.MatchLabels) == 1 && d.Spec.Selector.MatchLabels["app"] == "kubia"},
		{"labels defaulted from template labels", d.Labels["app"] == "kubia"},
		{"revisionHistoryLimit defaults to 2 in v1beta1", *d.Spec.RevisionHistoryLimit == 2},
		{"progressDeadlineSeconds defaults to 600", *d.Spec.ProgressDeadlineSeconds == 600},
		{"replicas kept", *d.Spec.Replicas == 3},
		{"maxSurge 1 kept as an integer", *d.Spec.Strategy.RollingUpdate.MaxSurge == intstr.FromInt32(1)},
		{"maxUnavailable 0 kept as an integer", *d.Spec.Strategy.RollingUpdate.MaxUnavailable == intstr.FromInt32(0)},
		{"probe defaults applied", func() bool {
			p := d.Spec.Template.Spec.Containers[0].ReadinessProbe
			return p.PeriodSeconds == 1 && p.TimeoutSeconds == 1 && p.SuccessThreshold == 1 && p.FailureThreshold == 3 &&
				p.HTTPGet.Scheme == corev1.URISchemeHTTP
		}()},
		{"tagged image pulls IfNotPresent", d.Spec.Template.Spec.Containers[0].ImagePullPolicy == corev1.PullIfNotPresent},
		{"generation 1", d.Generation == 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("not so: %+v", d)
			}
		})
	}
}

func TestV1beta1Validation(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []string
	}{
		{"v1beta1 maxSurge and maxUnavailable both 0 is invalid as apps/v1",
			`{"metadata":{"name":"a"},"spec":{"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":0}},
			"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: may not be 0 when `maxSurge` is 0"}},
		{"v1beta1 without template labels still needs a selector",
			`{"metadata":{"name":"a"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			[]string{"spec.selector: Required value",
				"spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"}},
		{"v1beta1 rollbackTo is dropped",
			`{"metadata":{"name":"a"},"spec":{"rollbackTo":{"revision":1},
			"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := createAtV1beta1(t, tt.manifest)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %q, want %q", errs, tt.want)
			}
			for i := range errs {
				if errs[i] != tt.want[i] {
					t.Errorf("error %d = %q, want %q", i, errs[i], tt.want[i])
				}
			}
		})
	}
}

func TestV1beta1FromStorage(t *testing.T) {
	_, alt := v1beta1Alt(t)
	d := validDeployment()
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	d.Status.Replicas = 2
	tests := []struct {
		name  string
		in    runtime.Object
		check func(runtime.Object) bool
	}{
		{"deployment converts with v1beta1 type meta", d, func(o runtime.Object) bool {
			b, ok := o.(*appsv1beta1.Deployment)
			return ok && b.APIVersion == "apps/v1beta1" && b.Kind == "Deployment" && b.Name == "web" &&
				b.Status.Replicas == 2 && b.Spec.Selector.MatchLabels["app"] == "web"
		}},
		{"list converts and its items carry no type meta", &appsv1.DeploymentList{Items: []appsv1.Deployment{*d}},
			func(o runtime.Object) bool {
				l, ok := o.(*appsv1beta1.DeploymentList)
				return ok && l.APIVersion == "apps/v1beta1" && l.Kind == "DeploymentList" && len(l.Items) == 1 &&
					l.Items[0].Kind == "" && l.Items[0].Name == "web"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := alt.FromStorage(tt.in)
			if err != nil {
				t.Fatalf("FromStorage: %v", err)
			}
			if !tt.check(out) {
				t.Errorf("converted to %+v", out)
			}
		})
	}
}
