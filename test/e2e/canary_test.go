package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubiaCanary is chapter 9's kubia with 4 replicas, the rollout settings of
// 9.3.6 (maxSurge 1, maxUnavailable 0) and its readiness probe, so that a
// pod counts once it answers.
const kubiaCanary = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 4
  minReadySeconds: 1
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
    type: RollingUpdate
  selector:
    matchLabels:
      app: kubia
  template:
    metadata:
      name: kubia
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v1
        name: nodejs
        readinessProbe:
          periodSeconds: 1
          httpGet:
            path: /
            port: 8080
`

// TestCanarySteps is what the reader of 9.3.5 wished for: a rollout that
// pauses by itself at 1 new pod and at 50%, driven by kubectl alone.
func TestCanarySteps(t *testing.T) {
	s, _ := startAgentServer(t)
	k := preferredKubectl(t)
	s.must(k, "apply", "-f", writeFile(t, "kubia.yaml", kubiaCanary))
	contains(t, "rollout status", s.must(k, "rollout", "status", "deployment", "kubia", "--timeout=90s"), `deployment "kubia" successfully rolled out`)

	// A value the controller would not understand is refused where it is
	// written, and changes nothing.
	for _, bad := range []struct{ arg, want string }{
		{"skiff.dev/canary-steps=150%", `metadata.annotations[skiff.dev/canary-steps]: Invalid value: "150%": must be a comma-separated list of pod counts or percentages of spec.replicas`},
		{"skiff.dev/canary-steps=50%,25%", `metadata.annotations[skiff.dev/canary-steps]: Invalid value: "50%,25%": must be`},
		{"skiff.dev/step-pause=2minutes", `metadata.annotations[skiff.dev/step-pause]: Invalid value: "2minutes": must be a positive Go duration`},
		{"skiff.dev/auto-rollback=maybe", `metadata.annotations[skiff.dev/auto-rollback]: Invalid value: "maybe": must be "true" or "false"`},
	} {
		out, errOut, err := s.run(k, "", "annotate", "deployment", "kubia", bad.arg)
		if err == nil || !strings.Contains(errOut, bad.want) || !strings.Contains(errOut, `is invalid`) {
			t.Fatalf("kubectl annotate %s: err=%v\nstdout=%s\nstderr=%s\nwant %q", bad.arg, err, out, errOut, bad.want)
		}
	}
	if got := s.must(k, "get", "deploy", "kubia", "-o", `jsonpath={.metadata.annotations}`); strings.Contains(got, "skiff.dev/") {
		t.Fatalf("refused annotations were stored: %s", got)
	}

	contains(t, "annotate", s.must(k, "annotate", "deployment", "kubia", "skiff.dev/canary-steps=1,50%"), "deployment.apps/kubia annotated")
	contains(t, "set image", s.must(k, "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2"), "deployment.apps/kubia image updated")

	held := func(n int, what string) {
		t.Helper()
		var out string
		eventually(t, 90*time.Second, what, func() bool {
			out, _, _ = s.run(k, "", "rollout", "status", "deployment", "kubia", "--watch=false")
			if strings.TrimSpace(out) != `Waiting for deployment "kubia" rollout to finish: `+strconv.Itoa(n)+` out of 4 new replicas have been updated...` {
				return false
			}
			paused := s.must(k, "get", "deploy", "kubia", "-o", `jsonpath={.spec.paused} {.metadata.annotations.skiff\.dev/canary-step}`)
			return strings.HasPrefix(paused, "true "+strconv.Itoa(n)+"/2 ")
		})
	}
	held(1, "the rollout held at 1 new pod")
	rs := rsByImage(t, s, k)
	if rs["luksa/kubia:v2"] != "1" || rs["luksa/kubia:v1"] != "3" {
		t.Fatalf("at step 1: %v, want v2 at 1 and v1 at 3", rs)
	}
	if got := s.must(k, "get", "deploy", "kubia", "-o", `jsonpath={.metadata.annotations.skiff\.dev/canary-step}`); !regexp.MustCompile(`^1/2 [a-z0-9]+$`).MatchString(got) {
		t.Fatalf("canary-step annotation %q", got)
	}
	desc := s.must(k, "describe", "deployment", "kubia")
	for _, re := range []string{`skiff\.dev/Canary\s+True\s+CanaryStepReached`, `Normal\s+CanaryStepReached\s+.*Reached canary step 1/2: 1 of 4 pods run ReplicaSet "kubia-`, `Progressing\s+Unknown\s+DeploymentPaused`} {
		if !regexp.MustCompile(re).MatchString(desc) {
			t.Fatalf("describe lacks %s:\n%s", re, desc)
		}
	}

	contains(t, "resume", s.must(k, "rollout", "resume", "deployment", "kubia"), "deployment.apps/kubia resumed")
	held(2, "the rollout held at 50%")
	if rs := rsByImage(t, s, k); rs["luksa/kubia:v2"] != "2" || rs["luksa/kubia:v1"] != "2" {
		t.Fatalf("at step 2: %v, want 2 and 2", rs)
	}

	contains(t, "resume", s.must(k, "rollout", "resume", "deployment", "kubia"), "deployment.apps/kubia resumed")
	contains(t, "rollout status", s.must(k, "rollout", "status", "deployment", "kubia", "--timeout=90s"), `deployment "kubia" successfully rolled out`)
	if rs := rsByImage(t, s, k); rs["luksa/kubia:v2"] != "4" || rs["luksa/kubia:v1"] != "0" {
		t.Fatalf("after the last step: %v", rs)
	}
	contains(t, "describe", s.must(k, "describe", "deployment", "kubia"), "CanaryComplete")
}

// rsByImage returns DESIRED of the Deployment's ReplicaSets by image.
func rsByImage(t *testing.T, s *server, k kubectl) map[string]string {
	t.Helper()
	out := s.must(k, "get", "rs", "-o", `jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}={.spec.replicas}{"\n"}{end}`)
	m := map[string]string{}
	for _, l := range strings.Fields(out) {
		img, n, _ := strings.Cut(l, "=")
		m[img] = n
	}
	return m
}

// TestAutoRollback is the chapter's bad version, luksa/kubia:v3 (500 from
// its fifth request on, so its readiness probe fails), rolled back by the
// controller: first through skiff.dev/max-unready, then — set again by the
// user — through a short progress deadline.
func TestAutoRollback(t *testing.T) {
	s, _ := startAgentServer(t)
	k := preferredKubectl(t)
	manifest := strings.Replace(strings.Replace(kubiaCanary, "replicas: 4", "replicas: 3", 1), "minReadySeconds: 1", "minReadySeconds: 10", 1)
	manifest = strings.Replace(manifest, "  name: kubia\nspec:", "  name: kubia\n  annotations:\n    skiff.dev/auto-rollback: \"true\"\n    skiff.dev/max-unready: 15s\nspec:", 1)
	manifest = strings.Replace(manifest, "luksa/kubia:v1", "luksa/kubia:v2", 1)
	s.must(k, "apply", "-f", writeFile(t, "kubia.yaml", manifest))
	s.must(k, "rollout", "status", "deployment", "kubia", "--timeout=120s")
	goodRS := rsName(t, s, k, "luksa/kubia:v2")

	// kubectl rollout status follows the bad rollout and fails when the
	// controller rolls it back.
	s.must(k, "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v3")
	out, errOut, err := s.run(k, "", "rollout", "status", "deployment", "kubia", "--timeout=55s")
	if err == nil || !strings.Contains(errOut, `error: deployment "kubia" exceeded its progress deadline`) {
		t.Fatalf("rollout status: err=%v\nstdout=%s\nstderr=%s", err, out, errOut)
	}
	badRS := rsName(t, s, k, "luksa/kubia:v3")
	checkRolledBack(t, s, k, goodRS, badRS, `pod `+badRS+`-[a-z0-9]+ not Ready for \d+s \(max-unready 15s\)`, "3")

	// The same bad template again, now with only the deadline to catch it.
	s.must(k, "annotate", "deployment", "kubia", "skiff.dev/max-unready-")
	s.must(k, "patch", "deployment", "kubia", "-p", `{"spec":{"progressDeadlineSeconds":15}}`)
	s.must(k, "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v3")
	out, errOut, err = s.run(k, "", "rollout", "status", "deployment", "kubia", "--timeout=55s")
	if err == nil || !strings.Contains(errOut, `error: deployment "kubia" exceeded its progress deadline`) {
		t.Fatalf("rollout status: err=%v\nstdout=%s\nstderr=%s", err, out, errOut)
	}
	checkRolledBack(t, s, k, goodRS, badRS, `ReplicaSet "`+badRS+`" made no progress for 15s \(progressDeadlineSeconds\)`, "5")
}

func rsName(t *testing.T, s *server, k kubectl, image string) string {
	t.Helper()
	out := s.must(k, "get", "rs", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].image}{"\n"}{end}`)
	for _, l := range strings.Fields(out) {
		if name, img, _ := strings.Cut(l, "="); img == image {
			return name
		}
	}
	t.Fatalf("no ReplicaSet of %s:\n%s", image, out)
	return ""
}

// checkRolledBack checks what the user sees after an automatic rollback
// from bad to good: the image, the events and conditions of describe, the
// revision good now has, and that the rollback completes.
func checkRolledBack(t *testing.T, s *server, k kubectl, good, bad, signal, revision string) {
	t.Helper()
	if img := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "luksa/kubia:v2" {
		t.Fatalf("image after the rollback = %s", img)
	}
	contains(t, "rollout status", s.must(k, "rollout", "status", "deployment", "kubia", "--timeout=90s"), `deployment "kubia" successfully rolled out`)
	desc := s.must(k, "describe", "deployment", "kubia")
	for _, re := range []string{
		`Warning\s+RolledBack\s+.*Rolled back from revision \d+ \(ReplicaSet "` + bad + `"\) to revision \d+ \(ReplicaSet "` + good + `"\): ` + signal,
		`skiff\.dev/AutoRollback\s+True\s+RolledBack`,
		`Image:\s+luksa/kubia:v2`,
	} {
		if !regexp.MustCompile(re).MatchString(desc) {
			t.Fatalf("describe lacks %s:\n%s", re, desc)
		}
	}
	d, err := s.client().AppsV1().Deployments("default").Get(context.Background(), "kubia", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Annotations["deployment.kubernetes.io/revision"] != revision || d.Annotations["skiff.dev/rolled-back-from"] != strings.TrimPrefix(bad, "kubia-") {
		t.Fatalf("annotations after the rollback: %v; want revision %s", d.Annotations, revision)
	}
	if rs := rsByImage(t, s, k); rs["luksa/kubia:v3"] != "0" || rs["luksa/kubia:v2"] != "3" {
		t.Fatalf("ReplicaSets after the rollback: %v", rs)
	}
}
