package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// appConfig is a ConfigMap manifest with one greeting.
func appConfig(greeting string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: " + greeting + "\n"
}

// webDeployment is a Deployment manifest whose one container has the given env vars (NAME=value).
func webDeployment(env ...string) string {
	m := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: luksa/kubia:v1
`
	if len(env) > 0 {
		m += "        env:\n"
		for _, e := range env {
			name, value, _ := strings.Cut(e, "=")
			m += "        - name: " + name + "\n          value: \"" + value + "\"\n"
		}
	}
	return m
}

// managedEntry is the part of a managed fields entry the tests look at.
type managedEntry struct {
	Manager     string          `json:"manager"`
	Operation   string          `json:"operation"`
	Subresource string          `json:"subresource"`
	FieldsV1    json.RawMessage `json:"fieldsV1"`
}

// managedFields reads an object's managed fields through kubectl.
func managedFields(t *testing.T, s *server, k kubectl, ns, what string) []managedEntry {
	t.Helper()
	var obj struct {
		Metadata struct {
			ManagedFields []managedEntry `json:"managedFields"`
		} `json:"metadata"`
	}
	out := s.must(k, "get", what, "-n", ns, "-o", "json", "--show-managed-fields")
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("decode %s: %v\n%s", what, err, out)
	}
	return obj.Metadata.ManagedFields
}

func hasManager(entries []managedEntry, manager, operation string) bool {
	for _, e := range entries {
		if e.Manager == manager && e.Operation == operation {
			return true
		}
	}
	return false
}

// TestKubectlServerSideApply: kubectl apply --server-side with every bundled kubectl and the
// built-in one: create, update, a conflict with another field manager (a failure naming the
// manager and the field), --force-conflicts, and the move from client-side apply.
func TestKubectlServerSideApply(t *testing.T) {
	s := startServer(t, "--runtime", "none")
	for _, k := range kubectls(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ns := "ssa-" + strings.ReplaceAll(k.name, ".", "-")
			s.must(k, "create", "namespace", ns)
			apply := func(manifest string, args ...string) (string, string, error) {
				return s.run(k, manifest, append([]string{"apply", "-n", ns, "-f", "-"}, args...)...)
			}
			mustApply := func(what, manifest string, args ...string) string {
				t.Helper()
				out, errOut, err := apply(manifest, args...)
				if err != nil {
					t.Fatalf("%s: %v\n%s%s", what, err, out, errOut)
				}
				return out
			}

			contains(t, "create", mustApply("create", appConfig("hello"), "--server-side"), "configmap/app serverside-applied")
			if mf := managedFields(t, s, k, ns, "configmap/app"); !hasManager(mf, "kubectl", "Apply") {
				t.Errorf("managed fields %+v: want kubectl's Apply", mf)
			}
			contains(t, "update", mustApply("update", appConfig("hi"), "--server-side"), "configmap/app serverside-applied")
			contains(t, "updated value", s.must(k, "get", "configmap/app", "-n", ns, "-o", "jsonpath={.data.greeting}"), "hi")

			out, errOut, err := apply(appConfig("bonjour"), "--server-side", "--field-manager=other")
			if err == nil {
				t.Fatalf("a conflicting apply succeeded:\n%s", out)
			}
			contains(t, "conflict", errOut, `Apply failed with 1 conflict: conflict with "kubectl": .data.greeting`)
			contains(t, "value kept", s.must(k, "get", "configmap/app", "-n", ns, "-o", "jsonpath={.data.greeting}"), "hi")

			mustApply("force", appConfig("bonjour"), "--server-side", "--field-manager=other", "--force-conflicts")
			contains(t, "forced value", s.must(k, "get", "configmap/app", "-n", ns, "-o", "jsonpath={.data.greeting}"), "bonjour")
			if mf := managedFields(t, s, k, ns, "configmap/app"); !hasManager(mf, "other", "Apply") {
				t.Errorf("managed fields %+v: want other's Apply", mf)
			}

			// From client-side apply to server-side: kubectl moves the client-side apply's
			// ownership to its server-side manager, so a field dropped from the manifest later
			// goes from the object.
			contains(t, "client-side apply", mustApply("client-side apply", webDeployment("A=1", "B=2")), "deployment.apps/web created")
			if mf := managedFields(t, s, k, ns, "deployment/web"); !hasManager(mf, "kubectl-client-side-apply", "Update") {
				t.Errorf("managed fields %+v: want kubectl-client-side-apply's Update", mf)
			}
			contains(t, "migrate", mustApply("migrate", webDeployment("A=1", "B=2"), "--server-side"), "deployment.apps/web serverside-applied")
			contains(t, "drop B", mustApply("drop B", webDeployment("A=1"), "--server-side"), "deployment.apps/web serverside-applied")
			env := s.must(k, "get", "deployment/web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].env[*].name}")
			if strings.TrimSpace(env) != "A" {
				t.Errorf("env after dropping B = %q, want A alone", env)
			}
			if mf := managedFields(t, s, k, ns, "deployment/web"); !hasManager(mf, "kubectl", "Apply") {
				t.Errorf("managed fields %+v: want kubectl's Apply", mf)
			}
		})
	}
}

// TestClientGoApply: client-go's typed Apply with apply configurations, as controllers and
// operators use it: create, a conflict with another manager (a 409 Conflict), Force, the
// applied configuration read back with ExtractDeployment, and ownership kept across a
// restart, since it is stored with the object.
func TestClientGoApply(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--runtime", "none")
	ctx := context.Background()
	deployments := s.client().AppsV1().Deployments("default")
	web := func(image string, replicas int32) *appsv1ac.DeploymentApplyConfiguration {
		labels := map[string]string{"app": "web"}
		return appsv1ac.Deployment("web", "default").WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
			WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).WithSpec(corev1ac.PodSpec().
				WithContainers(corev1ac.Container().WithName("web").WithImage(image).
					WithPorts(corev1ac.ContainerPort().WithContainerPort(8080))))))
	}

	d, err := deployments.Apply(ctx, web("luksa/kubia:v1", 2), metav1.ApplyOptions{FieldManager: "operator"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if d.UID == "" || *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v1" {
		t.Fatalf("applied deployment = %+v", d.Spec)
	}

	_, err = deployments.Apply(ctx, web("luksa/kubia:v2", 2), metav1.ApplyOptions{FieldManager: "intruder"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "operator"`) ||
		!strings.Contains(err.Error(), `.spec.template.spec.containers[name="web"].image`) {
		t.Fatalf("conflicting apply: err = %v, want a 409 Conflict naming operator and the image", err)
	}

	// a write of the scale subresource takes the replicas from the operator, as a scaler's would
	if _, err := deployments.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`),
		metav1.PatchOptions{FieldManager: "scaler"}, "scale"); err != nil {
		t.Fatal(err)
	}

	s.stop()
	s.start()
	deployments = s.client().AppsV1().Deployments("default")

	_, err = deployments.Apply(ctx, web("luksa/kubia:v2", 3), metav1.ApplyOptions{FieldManager: "intruder"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("conflicting apply after a restart: err = %v, want a 409 Conflict", err)
	}
	d, err = deployments.Apply(ctx, web("luksa/kubia:v2", 3), metav1.ApplyOptions{FieldManager: "intruder", Force: true})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if d.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v2" {
		t.Errorf("image after a forced apply = %s", d.Spec.Template.Spec.Containers[0].Image)
	}
	mine, err := appsv1ac.ExtractDeployment(d, "intruder")
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if img := mine.Spec.Template.Spec.Containers[0].Image; img == nil || *img != "luksa/kubia:v2" || *mine.Spec.Replicas != 3 {
		t.Errorf("intruder's applied configuration = %+v", mine.Spec)
	}
	ops, err := appsv1ac.ExtractDeployment(d, "operator")
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if ops.Spec != nil && ops.Spec.Template != nil && len(ops.Spec.Template.Spec.Containers) > 0 && ops.Spec.Template.Spec.Containers[0].Image != nil {
		t.Errorf("operator still owns the image after the forced apply: %+v", ops.Spec.Template.Spec.Containers[0])
	}
}

// TestKubectlApplySetPrune: kubectl apply --applyset --prune (alpha, behind KUBECTL_APPLYSET)
// with every kubectl: the parent Secret gets its applyset id label and tooling and group-kind
// annotations through server-side apply, the members their part-of label, and a member dropped
// from the set is pruned, on server-side apply (and, with the built-in kubectl, client-side).
func TestKubectlApplySetPrune(t *testing.T) {
	s := startServer(t, "--runtime", "none")
	for _, k := range kubectls(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ns := "applyset-" + strings.ReplaceAll(k.name, ".", "-")
			s.must(k, "create", "namespace", ns)
			cm := func(name string) string {
				return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  k: v\n"
			}
			modes := map[string]string{"set-ssa": "--server-side"}
			if k.name == "builtin" {
				modes["set-csa"] = "--server-side=false" // the same code in every version: once is enough
			}
			for set, mode := range modes {
				apply := func(manifests ...string) string {
					t.Helper()
					out, errOut, err := s.runEnv(k, []string{"KUBECTL_APPLYSET=true"}, strings.Join(manifests, "---\n"),
						"apply", "-n", ns, "--prune", "--applyset="+set, mode, "-f", "-")
					if err != nil {
						t.Fatalf("apply %s: %v\n%s%s", mode, err, out, errOut)
					}
					return out
				}
				a, b := set+"-a", set+"-b"
				contains(t, "apply the set", apply(cm(a), cm(b)), "configmap/"+a, "configmap/"+b)
				labels := s.must(k, "get", "secret/"+set, "-n", ns, "-o", "jsonpath={.metadata.labels}")
				contains(t, "parent labels", labels, "applyset.kubernetes.io/id")
				annotations := s.must(k, "get", "secret/"+set, "-n", ns, "-o", "jsonpath={.metadata.annotations}")
				contains(t, "parent annotations", annotations, "applyset.kubernetes.io/tooling")
				// kubectl 1.27 and 1.28 list the members' resources, later ones their kinds
				if !strings.Contains(annotations, `"applyset.kubernetes.io/contains-group-kinds":"ConfigMap"`) &&
					!strings.Contains(annotations, `"applyset.kubernetes.io/contains-group-resources":"configmaps"`) {
					t.Errorf("parent annotations %s name no ConfigMap members", annotations)
				}
				contains(t, "member label", s.must(k, "get", "configmap/"+b, "-n", ns, "-o", "jsonpath={.metadata.labels}"), "applyset.kubernetes.io/part-of")

				contains(t, "prune", apply(cm(a)), "configmap/"+b+" pruned")
				if _, _, err := s.run(k, "", "get", "configmap/"+b, "-n", ns); err == nil {
					t.Errorf("%s: configmap %s is still there after the prune", mode, b)
				}
				s.must(k, "get", "configmap/"+a, "-n", ns)
			}
		})
	}
}
