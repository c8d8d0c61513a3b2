package e2e

import (
	"encoding/json"
	"strings"
	"testing"
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
