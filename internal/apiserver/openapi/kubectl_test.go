package openapi

// These tests drive the handler with the OpenAPI consumers kubectl and client-go ship: if they
// pass, kubectl's validation, explain, client-side apply and field-validation check work here.

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	clientopenapi "k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi/cached"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"
	kubectlopenapi "k8s.io/kubectl/pkg/util/openapi"
	"k8s.io/kubectl/pkg/validation"
	"k8s.io/utils/ptr"
)

// kubectlClients serves the handler over HTTP and returns the clients kubectl builds.
func kubectlClients(t *testing.T) (*discovery.DiscoveryClient, dynamic.Interface) {
	t.Helper()
	srv := httptest.NewServer(newHandler(t))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dc, dyn
}

// servedGVKs lists every group-version-kind of servedResources.
// servedGVKs are the kinds of every served resource that can be patched (the create-only reviews
// have no PATCH, at skiff as upstream, so kubectl's patch and field-validation checks skip them).
func servedGVKs() []schema.GroupVersionKind {
	var gvks []schema.GroupVersionKind
	for _, r := range servedResources() {
		if !slices.Contains(r.Verbs, "patch") {
			continue
		}
		gvks = append(gvks, r.GVR.GroupVersion().WithKind(r.Kind))
		for _, v := range r.Versions {
			gvks = append(gvks, v.GroupVersion.WithKind(r.Kind))
		}
	}
	return gvks
}

func TestKubeOpenAPIProtoModels(t *testing.T) {
	dc, _ := kubectlClients(t)
	doc, err := dc.OpenAPISchema() // protobuf, as kubectl fetches it
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("proto.NewOpenAPIData: %v", err)
	}
	deployment, ok := models.LookupModel("io.k8s.api.apps.v1.Deployment").(*proto.Kind)
	if !ok {
		t.Fatalf("Deployment model is %T", models.LookupModel("io.k8s.api.apps.v1.Deployment"))
	}
	if _, ok := deployment.Fields["spec"]; !ok {
		t.Errorf("Deployment model has no spec: %v", deployment.Keys())
	}

	resources, err := kubectlopenapi.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl openapi.NewOpenAPIData: %v", err)
	}
	for _, gvk := range servedGVKs() {
		if resources.LookupResource(gvk) == nil {
			t.Errorf("kubectl finds no model for %s", gvk)
		}
		if gvk.Kind != "Namespace" && !strings.Contains(strings.Join(resources.GetConsumes(gvk, "PATCH"), ","), "strategic-merge-patch") {
			t.Errorf("%s: PATCH consumes %q, without strategic merge patch", gvk, resources.GetConsumes(gvk, "PATCH"))
		}
	}
}

// resourcesGetter adapts parsed models to kubectl's validation.
type resourcesGetter struct{ resources kubectlopenapi.Resources }

func (g resourcesGetter) OpenAPISchema() (kubectlopenapi.Resources, error) { return g.resources, nil }

// TestKubectlClientSideValidation checks that the v2 models accept valid manifests and still
// catch mistakes; older kubectl validates with them when it cannot validate on the server.
func TestKubectlClientSideValidation(t *testing.T) {
	dc, _ := kubectlClients(t)
	resources, err := kubectlopenapi.NewOpenAPIParser(dc).Parse()
	if err != nil {
		t.Fatal(err)
	}
	validator := validation.NewSchemaValidation(resourcesGetter{resources})
	tests := []struct {
		name, manifest string
		valid          bool
	}{
		{name: "deployment", valid: true, manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80, name: http}]
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 1Gi}}
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 5}
        env: [{name: MODE, value: prod}]
`},
		{name: "apps/v1beta1 deployment", valid: true, manifest: `
apiVersion: apps/v1beta1
kind: Deployment
metadata: {name: old}
spec:
  template:
    metadata: {labels: {app: old}}
    spec: {containers: [{name: c, image: busybox, command: [sleep, "3600"]}]}
`},
		{name: "service with named and numbered target ports", valid: true, manifest: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}, {name: alt, port: 8080, targetPort: 8080, protocol: TCP}]
`},
		{name: "secret with base64 data", valid: true, manifest: `
apiVersion: v1
kind: Secret
metadata: {name: s}
type: Opaque
data: {password: cGFzc3dvcmQ=}
stringData: {user: admin}
`},
		{name: "lease with microsecond times", valid: true, manifest: `
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: node-1, namespace: kube-node-lease}
spec: {holderIdentity: node-1, leaseDurationSeconds: 40, renewTime: "2024-01-01T00:00:00.000000Z"}
`},
		{name: "endpoint slice", valid: true, manifest: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]
ports: [{name: http, port: 80, protocol: TCP}]
`},
		{name: "unknown field", manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicaz: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: nginx}]}}
`},
		{name: "missing required container name", manifest: `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{image: nginx}]}
`},
		{name: "wrong type", manifest: `
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {count: [1, 2]}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validator.ValidateBytes([]byte(tt.manifest))
			if tt.valid && err != nil {
				t.Errorf("rejected a valid manifest: %v", err)
			}
			if !tt.valid && err == nil {
				t.Error("accepted an invalid manifest")
			}
		})
	}
}

func TestOpenAPIV3Root(t *testing.T) {
	dc, _ := kubectlClients(t)
	root := openapi3.NewRoot(cached.NewClient(dc.OpenAPIV3()))
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatalf("GroupVersions: %v", err)
	}
	for _, want := range []schema.GroupVersion{{Version: "v1"}, {Group: "apps", Version: "v1"}, appsV1beta1} {
		found := false
		for _, gv := range gvs {
			found = found || gv == want
		}
		if !found {
			t.Errorf("GroupVersions %v lacks %s", gvs, want)
		}
	}
	spec, err := root.GVSpec(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil {
		t.Fatalf("GVSpec apps/v1: %v", err)
	}
	deployment := spec.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if deployment == nil {
		t.Fatal("apps/v1 has no Deployment schema")
	}
	var kinds []map[string]string
	if err := deployment.Extensions.GetObject("x-kubernetes-group-version-kind", &kinds); err != nil || len(kinds) != 1 ||
		kinds[0]["kind"] != "Deployment" || kinds[0]["group"] != "apps" || kinds[0]["version"] != "v1" {
		t.Errorf("Deployment x-kubernetes-group-version-kind = %v (%v)", kinds, err)
	}
	if deployment.Description == "" {
		t.Error("Deployment has no description")
	}
	for _, name := range []string{"Status", "DeleteOptions", "WatchEvent", "APIResourceList", "ObjectMeta", "Patch"} {
		if spec.Components.Schemas["io.k8s.apimachinery.pkg.apis.meta.v1."+name] == nil {
			t.Errorf("apps/v1 has no meta/v1 %s schema", name)
		}
	}
	for name, s := range spec.Components.Schemas {
		checkRefs(t, spec, name, s)
	}
}

// checkRefs fails on a reference to a schema the document does not hold.
func checkRefs(t *testing.T, doc *spec3.OpenAPI, where string, s any) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(string(b), `"$ref":"#/components/schemas/`)[1:] {
		name := part[:strings.Index(part, `"`)]
		if doc.Components.Schemas[name] == nil {
			t.Errorf("%s refers to %s, which the document lacks", where, name)
		}
	}
}

func TestFieldValidationVerifier(t *testing.T) {
	dc, dyn := kubectlClients(t)
	verifiers := map[string]resource.Verifier{
		// kubectl 1.27+ asks the v3 document first, then v2; both must agree.
		"v3": resource.NewQueryParamVerifierV3(dyn, cached.NewClient(dc.OpenAPIV3()), resource.QueryParamFieldValidation),
		"v2": resource.NewQueryParamVerifier(dyn, dc, resource.QueryParamFieldValidation),
	}
	gvks := []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1beta1", Kind: "Deployment"},
		{Version: "v1", Kind: "Pod"},
	}
	for _, gvk := range servedGVKs() { // and every other served kind
		if !slices.Contains(gvks, gvk) {
			gvks = append(gvks, gvk)
		}
	}
	for name, v := range verifiers {
		for _, gvk := range gvks {
			t.Run(name+" "+gvk.String(), func(t *testing.T) {
				if err := v.HasSupport(gvk); err != nil {
					t.Errorf("fieldValidation unsupported: %v", err)
				}
			})
		}
	}
}

func TestExplain(t *testing.T) {
	dc, _ := kubectlClients(t)
	client := cached.NewClient(dc.OpenAPIV3())
	tests := []struct {
		name   string
		gvr    schema.GroupVersionResource
		fields []string
		want   []string
	}{
		{name: "deployment.spec.strategy", gvr: appsv1.SchemeGroupVersion.WithResource("deployments"), fields: []string{"spec", "strategy"},
			want: []string{"GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", "FIELD: strategy <DeploymentStrategy>",
				appsv1.DeploymentSpec{}.SwaggerDoc()["strategy"][:40], "rollingUpdate\t<RollingUpdateDeployment>", "type\t<string>"}},
		{name: "deployment", gvr: appsv1.SchemeGroupVersion.WithResource("deployments"),
			want: []string{"KIND:       Deployment", "spec\t<DeploymentSpec>", "metadata\t<ObjectMeta>"}},
		{name: "required fields are marked", gvr: corev1.SchemeGroupVersion.WithResource("pods"), fields: []string{"spec", "containers"},
			want: []string{"KIND:       Pod", "FIELD: containers <[]Container>", "name\t<string> -required-", "ports\t<[]ContainerPort>"}},
		{name: "int-or-string fields", gvr: appsv1.SchemeGroupVersion.WithResource("deployments"),
			fields: []string{"spec", "strategy", "rollingUpdate", "maxSurge"}, want: []string{"FIELD: maxSurge <IntOrString>"}},
		{name: "alternative version", gvr: appsV1beta1.WithResource("deployments"), fields: []string{"spec", "rollbackTo"},
			want: []string{"VERSION:    v1beta1", "FIELD: rollbackTo <RollbackConfig>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := explainv2.PrintModelDescription(tt.fields, &out, client, tt.gvr, false, 0, "plaintext"); err != nil {
				t.Fatalf("explain: %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("explain output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestApplyPatchFromV3 checks that client-side apply computes, from the v3 document's patch
// extensions, exactly the patch it would compute from the Go types.
func TestApplyPatchFromV3(t *testing.T) {
	dc, _ := kubectlClients(t)
	spec, err := openapi3.NewRoot(dc.OpenAPIV3()).GVSpec(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	fromV3 := strategicpatch.PatchMetaFromOpenAPIV3{
		Schema: spec.Components.Schemas["io.k8s.api.apps.v1.Deployment"], SchemaList: spec.Components.Schemas,
	}
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	deployment := func(image string, envs []corev1.EnvVar, strategy appsv1.DeploymentStrategy, sidecar bool) []byte {
		d := appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2), Strategy: strategy,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image, Env: envs}}},
				},
			},
		}
		if sidecar {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "log", Image: "busybox"})
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rolling := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("50%"))}}
	recreate := appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	original := deployment("nginx:1.26", []corev1.EnvVar{{Name: "A", Value: "1"}}, rolling, false)
	modified := deployment("nginx:1.27", []corev1.EnvVar{{Name: "B", Value: "2"}}, recreate, false)
	current := deployment("nginx:1.26", []corev1.EnvVar{{Name: "A", Value: "1"}}, rolling, true)

	want, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromV3, false)
	if err != nil {
		t.Fatalf("patch from v3: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("patch from the v3 document:\n%s\nfrom the Go types:\n%s", got, want)
	}
	if !strings.Contains(string(got), "$setElementOrder/containers") || !strings.Contains(string(got), "$retainKeys") {
		t.Errorf("patch does not merge containers by name or retain strategy keys: %s", got)
	}
}

func TestTypeConverter(t *testing.T) {
	dc, _ := kubectlClients(t)
	tc, err := clientopenapi.NewTypeConverter(cached.NewClient(dc.OpenAPIV3()), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}},
		}}},
	}
	if _, err := tc.ObjectToTyped(d); err != nil {
		t.Errorf("ObjectToTyped: %v", err)
	}
}
