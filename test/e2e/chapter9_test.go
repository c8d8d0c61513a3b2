package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestChapter9 follows docs/tutorial.md from start to end: every command of chapter 9 in order,
// run from examples/chapter9 with the system kubectl 1.32 (the built-in one when there is none)
// against a fresh server, checking what the tutorial says the reader sees. It prints a line per
// step (`go test -v`, or `go test` in this directory, shows them). Every step runs: one this
// skiff cannot do (real pods, traffic through the Service, the garbage collector) fails.
//
// Time values are shortened where the chapter's would only make the test slow: minReadySeconds
// 10 becomes 2 (except in 9.3.6, where 10 is the point), the progress deadline 10 minutes
// becomes 15 seconds, and `skiff rolling-update` waits 2 seconds between steps instead of a
// minute. skiff's own behaviour is never changed.
func TestChapter9(t *testing.T) {
	if testing.Short() {
		t.Skip("chapter 9 takes a few minutes")
	}
	c := ch9Server(t)
	sections := []struct {
		name string
		run  func(c *ch9)
	}{
		{"start", ch9Start},
		{"9.1.1", ch9DeleteAndRecreate},
		{"9.1.2", ch9BlueGreen},
		{"9.2.1", ch9InitialRC},
		{"9.2.2", ch9RollingUpdate},
		{"9.2.3", ch9RollingUpdateVerbose},
		{"9.3.1", ch9CreateDeployment},
		{"9.3.2", ch9UpdateDeployment},
		{"9.3.3", ch9Rollback},
		{"9.3.4", ch9Rate},
		{"9.3.5", ch9Pause},
		{"9.3.6", ch9BlockBadRollout},
	}
	parent := c.t
	for _, sec := range sections {
		ok := t.Run(sec.name, func(t *testing.T) {
			c.t, c.section = t, sec.name
			defer func() { c.t = parent }()
			sec.run(c)
		})
		if !ok {
			fmt.Printf("chapter9: stopping after %s failed\n", sec.name)
			return
		}
	}
}

// Start: the server runs, kubectl reaches it, the node is Ready.
func ch9Start(c *ch9) {
	c.step("kubectl get nodes", func() {
		c.want("get nodes", c.run("kubectl", "get", "nodes"),
			`NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION`,
			`n1\s+Ready\s+\S+\s+\S+\s+v\S+`)
	})
}

// 9.3.1: the Deployment.
func ch9CreateDeployment(c *ch9) {
	c.step("kubectl delete rc --all", func() {
		c.wantExactly("delete", c.run("kubectl", "delete", "rc", "--all"), c.deleted(`replicationcontroller "kubia-v1"`))
		c.waitNoPods("kubectl delete rc --all")
	})
	c.step("kubectl get svc kubia: the Service stays", func() {
		c.want("get svc", c.run("kubectl", "get", "svc", "kubia"), `kubia\s+NodePort\s+\S+\s+<none>\s+80:30123/TCP\s+\S+`)
		// For readers starting here: the Service alone, checked by the server without creating it.
		c.want("dry run", c.run("kubectl", "apply", "-f", "kubia-svc-nodeport.yaml", "--dry-run=server"), `service/kubia (configured|unchanged) \(server dry run\)`)
	})
	c.step("kubectl create -f kubia-deployment-v1.yaml --record", func() {
		out, errOut, err := c.sh(60*time.Second, "kubectl", "create", "-f", "kubia-deployment-v1.yaml", "--record")
		if err != nil {
			c.t.Fatalf("create: %v\n%s", err, errOut)
		}
		c.wantExactly("stdout", out, `deployment.apps/kubia created`)
		c.want("stderr", errOut, `Flag --record has been deprecated, --record will be removed in the future`)
	})
	c.step("kubectl rollout status deployment kubia", func() {
		c.want("rollout status", c.run("kubectl", "rollout", "status", "deployment", "kubia"), `deployment "kubia" successfully rolled out`)
	})
	var hash string
	c.step("kubectl get rs", func() {
		out := c.run("kubectl", "get", "rs")
		c.wantExactly("get rs", out, `NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE`, `kubia-[a-z0-9]{8,10}\s+3\s+3\s+3\s+\S+`)
		hash = strings.TrimPrefix(ch9Table(out)[0]["NAME"], "kubia-")
	})
	c.step("kubectl get po --show-labels: pod-template-hash", func() {
		out := c.eventually("3 pods of the Deployment, Running", 60*time.Second, func(out string) bool {
			return ch9PodsAre(out, "kubia-"+hash+"-", 3)
		}, "kubectl", "get", "po", "--show-labels")
		for _, r := range ch9Table(out) {
			if r["LABELS"] != "app=kubia,pod-template-hash="+hash {
				c.t.Fatalf("pod %s labels %s, want app=kubia,pod-template-hash=%s", r["NAME"], r["LABELS"], hash)
			}
		}
	})
	c.step("curl: the Deployment's pods answer, v1", func() { c.curlUntil("v1", 5) })
}

// ch9MinReady is the test's minReadySeconds in place of the chapter's 10.
const ch9MinReady = `{"spec": {"minReadySeconds": 2}}`

// rolledOut waits for `kubectl rollout status` to say the rollout is done and returns its output.
func (c *ch9) rolledOut() string {
	c.t.Helper()
	out := c.run("kubectl", "rollout", "status", "deployment", "kubia")
	c.want("rollout status", out, `deployment "kubia" successfully rolled out`)
	return out
}

// rsImages returns the Deployment's ReplicaSets by image: name and DESIRED, the one with the
// most replicas where two run the same image.
func (c *ch9) rsImages() map[string][2]string {
	c.t.Helper()
	m := map[string][2]string{}
	for _, r := range ch9Table(c.run("kubectl", "get", "rs", "-o", "wide")) {
		n, _ := strconv.Atoi(r["DESIRED"])
		if prev, ok := m[r["IMAGES"]]; !ok || n > ch9Atoi(prev[1]) {
			m[r["IMAGES"]] = [2]string{r["NAME"], r["DESIRED"]}
		}
	}
	return m
}

// 9.3.2: set image, and the control plane rolls the pods over.
func ch9UpdateDeployment(c *ch9) {
	c.step(`kubectl patch deployment kubia -p '{"spec": {"minReadySeconds": 10}}' (2 in the test)`, func() {
		c.wantExactly("patch", c.run("kubectl", "patch", "deployment", "kubia", "-p", ch9MinReady), `deployment.apps/kubia patched`)
	})
	loop := c.startLoop(5000, 3*time.Minute)
	c.step("kubectl set image deployment kubia nodejs=luksa/kubia:v2", func() {
		c.wantExactly("set image", c.run("kubectl", "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2"), `deployment.apps/kubia image updated`)
	})
	c.step("kubectl rollout status deployment kubia", func() {
		c.want("rollout status", c.rolledOut(),
			`Waiting for deployment "kubia" rollout to finish: 1 out of 3 new replicas have been updated\.\.\.`,
			`Waiting for deployment "kubia" rollout to finish: 2 out of 3 new replicas have been updated\.\.\.`,
			`Waiting for deployment "kubia" rollout to finish: 1 old replicas are pending termination\.\.\.`,
			`deployment "kubia" successfully rolled out`)
	})
	c.step("kubectl get rs: the old ReplicaSet stays, scaled to 0", func() {
		out := c.run("kubectl", "get", "rs", "-o", "wide")
		c.wantExactly("get rs", out, `NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR`,
			`kubia-\w+\s+(0\s+0\s+0\s+\S+\s+nodejs\s+luksa/kubia:v1|3\s+3\s+3\s+\S+\s+nodejs\s+luksa/kubia:v2)\s+\S+`,
			`kubia-\w+\s+(0\s+0\s+0\s+\S+\s+nodejs\s+luksa/kubia:v1|3\s+3\s+3\s+\S+\s+nodejs\s+luksa/kubia:v2)\s+\S+`)
		if m := c.rsImages(); len(m) != 2 {
			c.t.Fatalf("want one ReplicaSet per image:\n%s", out)
		}
	})
	c.step("curl loop: v1, then both, then v2", func() {
		c.curlUntil("v2", 5)
		as := loop.finish()
		v := ch9Versions(as)
		c.t.Logf("during the rollout: %d requests, answers %v", len(as), v)
		if v["v1"] == 0 || v["v2"] == 0 {
			c.t.Fatalf("want answers from both versions during the rollout: %v", v)
		}
	})
}

// 9.3.3: a bad version, undo, history, undo --to-revision, and what deleting ReplicaSets does.
func ch9Rollback(c *ch9) {
	c.step("kubectl set image deployment kubia nodejs=luksa/kubia:v3", func() {
		c.wantExactly("set image", c.run("kubectl", "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v3"), `deployment.apps/kubia image updated`)
	})
	c.step("kubectl rollout status deployment kubia", func() { c.rolledOut() })
	c.step("curl: v3 fails from its fifth request on", func() {
		as := c.curl(30)
		failed := 0
		for _, a := range as {
			if a.code == 500 && strings.HasPrefix(a.body, "Some internal error has occurred! This is pod kubia-") {
				failed++
			}
		}
		c.t.Logf("v3: answers %v", ch9Versions(as))
		if failed == 0 {
			c.t.Fatalf("want v3's internal errors among 30 requests: %v", ch9Versions(as))
		}
	})
	c.step("kubectl rollout undo deployment kubia", func() {
		c.wantExactly("undo", c.run("kubectl", "rollout", "undo", "deployment", "kubia"), `deployment.apps/kubia rolled back`)
		c.rolledOut()
	})
	c.step("curl: v2 again", func() { c.curlUntil("v2", 5) })
	cause := c.kubectlCommand() + ` create --filename=kubia-deployment-v1\.yaml --record=true`
	c.step("kubectl rollout history deployment kubia", func() {
		c.wantExactly("history", c.run("kubectl", "rollout", "history", "deployment", "kubia"),
			`deployment.apps/kubia`,
			`REVISION\s+CHANGE-CAUSE`,
			`1\s+`+cause,
			`3\s+`+cause,
			`4\s+`+cause)
	})
	c.step("kubectl rollout undo deployment kubia --to-revision=1", func() {
		c.wantExactly("undo", c.run("kubectl", "rollout", "undo", "deployment", "kubia", "--to-revision=1"), `deployment.apps/kubia rolled back`)
		c.rolledOut()
		c.wantExactly("history", c.run("kubectl", "rollout", "history", "deployment", "kubia"),
			`deployment.apps/kubia`, `REVISION\s+CHANGE-CAUSE`, `3\s+`+cause, `4\s+`+cause, `5\s+`+cause)
	})
	c.step("curl: v1", func() { c.curlUntil("v1", 5) })

	var v3 string
	c.step("kubectl get rs -o wide", func() {
		m := c.rsImages()
		if len(m) != 3 || m["luksa/kubia:v1"][1] != "3" {
			c.t.Fatalf("want three ReplicaSets, v1's with 3 replicas: %v", m)
		}
		v3 = m["luksa/kubia:v3"][0]
	})
	c.step("kubectl delete rs KUBIA-V3-RS: its revision goes with it", func() {
		c.wantExactly("delete", c.run("kubectl", "delete", "rs", v3), c.deleted(`replicaset.apps "`+v3+`"`))
		c.wantExactly("history", c.run("kubectl", "rollout", "history", "deployment", "kubia"),
			`deployment.apps/kubia`, `REVISION\s+CHANGE-CAUSE`, `4\s+`+cause, `5\s+`+cause)
	})
	c.step(`kubectl patch deployment kubia -p '{"spec": {"revisionHistoryLimit": 0}}'`, func() {
		c.wantExactly("patch", c.run("kubectl", "patch", "deployment", "kubia", "-p", `{"spec": {"revisionHistoryLimit": 0}}`), `deployment.apps/kubia patched`)
		c.eventually("the old ReplicaSets cleaned up", 60*time.Second, func(out string) bool {
			return len(ch9Table(out)) == 1
		}, "kubectl", "get", "rs")
		c.wantExactly("history", c.run("kubectl", "rollout", "history", "deployment", "kubia"),
			`deployment.apps/kubia`, `REVISION\s+CHANGE-CAUSE`, `5\s+`+cause)
	})
	c.step("kubectl rollout undo deployment kubia: no rollout history found", func() {
		_, errOut, err := c.sh(30*time.Second, "kubectl", "rollout", "undo", "deployment", "kubia")
		if err == nil {
			c.t.Fatalf("undo with no history left succeeded")
		}
		c.wantExactly("undo", errOut, `error: no rollout history found for deployment "kubia"`)
	})
	c.step(`kubectl patch deployment kubia -p '{"spec": {"revisionHistoryLimit": 10}}'`, func() {
		c.wantExactly("patch", c.run("kubectl", "patch", "deployment", "kubia", "-p", `{"spec": {"revisionHistoryLimit": 10}}`), `deployment.apps/kubia patched`)
	})
}

// 9.3.4: maxSurge and maxUnavailable, as integers and as percentages.
func ch9Rate(c *ch9) {
	strategy := func(s string) {
		c.t.Helper()
		c.want("describe", c.run("kubectl", "describe", "deployment", "kubia"), `StrategyType:\s+RollingUpdate`, `RollingUpdateStrategy:\s+`+s)
	}
	c.step("kubectl describe deployment kubia: 25% max unavailable, 25% max surge", func() {
		strategy(`25% max unavailable, 25% max surge`)
	})
	c.step(`kubectl patch deployment kubia -p '{"spec": {"strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}}}'`, func() {
		c.wantExactly("patch", c.run("kubectl", "patch", "deployment", "kubia", "-p", `{"spec": {"strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}}}`), `deployment.apps/kubia patched`)
		strategy(`1 max unavailable, 2 max surge`)
	})
	c.step("kubectl set image deployment kubia nodejs=luksa/kubia:v2", func() {
		c.wantExactly("set image", c.run("kubectl", "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2"), `deployment.apps/kubia image updated`)
	})
	c.step("kubectl get rs: 3 new pods at once, one old pod gone, 5 in all", func() {
		c.eventually("new ReplicaSet at 3 while the old one is at 2", 60*time.Second, func(out string) bool {
			m := map[string]string{}
			for _, r := range ch9Table(out) {
				m[r["IMAGES"]] = r["DESIRED"]
			}
			return m["luksa/kubia:v2"] == "3" && m["luksa/kubia:v1"] == "2"
		}, "kubectl", "get", "rs", "-o", "wide")
		c.rolledOut()
	})
	c.step(`kubectl patch deployment kubia -p '{"spec": {"strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}}'`, func() {
		c.wantExactly("patch", c.run("kubectl", "patch", "deployment", "kubia", "-p", `{"spec": {"strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}}`), `deployment.apps/kubia patched`)
		strategy(`25% max unavailable, 25% max surge`)
	})
	c.step("curl: v2", func() { c.curlUntil("v2", 5) })
}

// 9.3.5: pause a rollout for a canary; pause before several changes so they roll out once.
func ch9Pause(c *ch9) {
	c.step("kubectl set image deployment kubia nodejs=luksa/kubia:v4", func() {
		c.wantExactly("set image", c.run("kubectl", "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v4"), `deployment.apps/kubia image updated`)
	})
	c.step("kubectl rollout pause deployment kubia", func() {
		c.wantExactly("pause", c.run("kubectl", "rollout", "pause", "deployment", "kubia"), `deployment.apps/kubia paused`)
	})
	c.step("kubectl rollout status deployment kubia (--watch=false in the test)", func() {
		c.eventually("the paused rollout's status", 30*time.Second, func(out string) bool {
			return strings.TrimSpace(out) == `Waiting for deployment "kubia" rollout to finish: 1 out of 3 new replicas have been updated...`
		}, "kubectl", "rollout", "status", "deployment", "kubia", "--watch=false")
		if m := c.rsImages(); m["luksa/kubia:v4"][1] != "1" || m["luksa/kubia:v2"][1] != "3" {
			c.t.Fatalf("paused with one canary pod: want v4 at 1 and v2 at 3: %v", m)
		}
	})
	c.step("curl: some requests reach the canary (v4)", func() {
		seen := map[string]int{}
		for i := 0; i < 200 && (seen["v4"] == 0 || seen["v2"] == 0); i++ {
			seen[ch9Get(c.target()).version]++
		}
		if seen["v4"] == 0 || seen["v2"] == 0 {
			c.t.Fatalf("want answers from v2 and the v4 canary: %v", seen)
		}
	})
	c.step("kubectl rollout resume deployment kubia", func() {
		c.wantExactly("resume", c.run("kubectl", "rollout", "resume", "deployment", "kubia"), `deployment.apps/kubia resumed`)
		c.rolledOut()
	})
	c.step("curl: v4", func() { c.curlUntil("v4", 5) })

	var rsBefore, histBefore string
	c.step("kubectl rollout pause deployment kubia (before several changes)", func() {
		c.wantExactly("pause", c.run("kubectl", "rollout", "pause", "deployment", "kubia"), `deployment.apps/kubia paused`)
		rsBefore = c.run("kubectl", "get", "rs", "-o", "name")
		histBefore = c.run("kubectl", "rollout", "history", "deployment", "kubia")
	})
	c.step("kubectl set env deployment kubia GREETING=hello", func() {
		c.wantExactly("set env", c.run("kubectl", "set", "env", "deployment", "kubia", "GREETING=hello"), `deployment.apps/kubia env updated`)
	})
	c.step("kubectl set image deployment kubia nodejs=luksa/kubia:v2", func() {
		c.wantExactly("set image", c.run("kubectl", "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2"), `deployment.apps/kubia image updated`)
	})
	c.step("kubectl get rs, rollout history: nothing rolled out yet", func() {
		if out := c.run("kubectl", "get", "rs", "-o", "name"); out != rsBefore {
			c.t.Fatalf("ReplicaSets changed while paused:\nbefore\n%s\nafter\n%s", rsBefore, out)
		}
		if out := c.run("kubectl", "rollout", "history", "deployment", "kubia"); out != histBefore {
			c.t.Fatalf("history changed while paused:\nbefore\n%s\nafter\n%s", histBefore, out)
		}
	})
	c.step("kubectl rollout resume deployment kubia: one rollout for both changes", func() {
		c.wantExactly("resume", c.run("kubectl", "rollout", "resume", "deployment", "kubia"), `deployment.apps/kubia resumed`)
		c.rolledOut()
		before, after := strings.Fields(rsBefore), strings.Fields(c.run("kubectl", "get", "rs", "-o", "name"))
		if len(after) != len(before)+1 {
			c.t.Fatalf("want exactly one new ReplicaSet:\nbefore %v\nafter %v", before, after)
		}
		hb, ha := strings.Count(histBefore, "\n"), strings.Count(c.run("kubectl", "rollout", "history", "deployment", "kubia"), "\n")
		if ha != hb+1 {
			c.t.Fatalf("want exactly one new revision")
		}
	})
	c.step("curl: v2", func() { c.curlUntil("v2", 5) })
}

// ch9ProgressDeadline is the test's progressDeadlineSeconds in place of the chapter's 600.
const ch9ProgressDeadline = `{"spec": {"progressDeadlineSeconds": 15}}`

// 9.3.6: a readiness probe and minReadySeconds keep a bad version from rolling out; the progress
// deadline marks the rollout failed; undo aborts it.
func ch9BlockBadRollout(c *ch9) {
	var oldHash string
	c.step("kubectl apply -f kubia-deployment-v3-with-readinesscheck.yaml", func() {
		oldHash = strings.TrimPrefix(c.rsImages()["luksa/kubia:v2"][0], "kubia-")
		out, errOut, err := c.sh(60*time.Second, "kubectl", "apply", "-f", "kubia-deployment-v3-with-readinesscheck.yaml")
		if err != nil {
			c.t.Fatalf("apply: %v\n%s", err, errOut)
		}
		c.wantExactly("apply", out, `deployment.apps/kubia configured`)
		c.want("apply warning", errOut, `Warning: resource deployments/kubia is missing the kubectl.kubernetes.io/last-applied-configuration annotation .*`)
	})
	loop := c.startLoop(5000, 3*time.Minute)
	c.step("kubectl rollout status deployment kubia: stuck at 1 of 3 (--watch=false in the test)", func() {
		c.eventually("the blocked rollout's status", 60*time.Second, func(out string) bool {
			return strings.TrimSpace(out) == `Waiting for deployment "kubia" rollout to finish: 1 out of 3 new replicas have been updated...`
		}, "kubectl", "rollout", "status", "deployment", "kubia", "--watch=false")
	})
	var bad string
	c.step("kubectl describe po: Readiness probe failed", func() {
		bad = c.rsImages()["luksa/kubia:v3"][0]
		if bad == "" {
			c.t.Fatalf("no ReplicaSet for luksa/kubia:v3")
		}
		pods := c.eventually("the v3 pod", 60*time.Second, func(out string) bool { return strings.Contains(out, bad+"-") }, "kubectl", "get", "po", "-o", "name")
		var pod string
		for _, p := range strings.Fields(pods) {
			if strings.HasPrefix(p, "pod/"+bad+"-") {
				pod = strings.TrimPrefix(p, "pod/")
			}
		}
		c.eventually("the readiness probe failing", 60*time.Second, func(out string) bool {
			return regexp.MustCompile(`Warning\s+Unhealthy\s+.*Readiness probe failed: HTTP probe failed with statuscode: 500`).MatchString(out)
		}, "kubectl", "describe", "po", pod)
		c.eventually("the v3 pod not ready, the old ones ready", 30*time.Second, func(out string) bool {
			rows := ch9Table(out)
			ok := len(rows) == 4
			for _, r := range rows {
				switch {
				case r["NAME"] == pod:
					ok = ok && r["READY"] == "0/1" && r["STATUS"] == "Running"
				case strings.HasPrefix(r["NAME"], "kubia-"+oldHash+"-"):
					ok = ok && r["READY"] == "1/1"
				default:
					ok = false
				}
			}
			return ok
		}, "kubectl", "get", "po")
	})
	c.step("kubectl get ep kubia: only the old pods", func() {
		old := map[string]bool{}
		pods, err := c.c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "pod-template-hash=" + oldHash})
		if err != nil {
			c.t.Fatal(err)
		}
		for _, p := range pods.Items {
			old[p.Status.PodIP+":8080"] = true
		}
		c.eventually("the endpoints to be the old pods'", 30*time.Second, func(out string) bool {
			rows := ch9Table(out)
			if len(rows) != 1 {
				return false
			}
			eps := strings.Split(rows[0]["ENDPOINTS"], ",")
			for _, ep := range eps {
				if !old[ep] {
					return false
				}
			}
			return len(eps) == 3
		}, "kubectl", "get", "ep", "kubia")
	})
	c.step("curl: only the old pods answer", func() {
		eventually(c.t, 30*time.Second, "the v3 pod a not-ready endpoint", func() bool {
			ep, err := c.c.CoreV1().Endpoints("default").Get(context.Background(), "kubia", metav1.GetOptions{})
			return err == nil && ch9NotReady(ep) == 1
		})
		if v := ch9Versions(c.curl(20)); v["v2"] != 20 {
			c.t.Fatalf("want every answer from the old pods: %v", v)
		}
		as := loop.finish()
		c.t.Logf("during the blocked rollout: %d requests, answers %v", len(as), ch9Versions(as))
	})
	c.step(`kubectl patch deployment kubia -p '{"spec": {"progressDeadlineSeconds": 60}}' (15 in the test)`, func() {
		c.wantExactly("patch", c.run("kubectl", "patch", "deployment", "kubia", "-p", ch9ProgressDeadline), `deployment.apps/kubia patched`)
	})
	c.step("kubectl rollout status deployment kubia: exceeded its progress deadline", func() {
		_, errOut, err := c.sh(2*time.Minute, "kubectl", "rollout", "status", "deployment", "kubia", "--timeout=100s")
		if err == nil {
			c.t.Fatalf("rollout status succeeded on a blocked rollout")
		}
		c.want("rollout status", errOut, `error: deployment "kubia" exceeded its progress deadline`)
	})
	c.step("kubectl describe deployment kubia: ProgressDeadlineExceeded", func() {
		c.want("describe", c.run("kubectl", "describe", "deployment", "kubia"),
			`Replicas:\s+3 desired \| 1 updated \| 4 total \| 3 available \| 1 unavailable`,
			`RollingUpdateStrategy:\s+0 max unavailable, 1 max surge`,
			`Conditions:`, `\s+Type\s+Status\s+Reason`, `\s+Available\s+True\s+MinimumReplicasAvailable`, `\s+Progressing\s+False\s+ProgressDeadlineExceeded`)
	})
	c.step("kubectl rollout undo deployment kubia: the bad rollout aborted", func() {
		c.wantExactly("undo", c.run("kubectl", "rollout", "undo", "deployment", "kubia"), `deployment.apps/kubia rolled back`)
		c.rolledOut()
		c.eventually("only the old pods", 60*time.Second, func(out string) bool {
			return ch9PodsAre(out, "kubia-"+oldHash+"-", 3)
		}, "kubectl", "get", "po")
	})
	c.step("curl: v2", func() { c.curlUntil("v2", 5) })
}

func ch9Atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func ch9NotReady(ep *corev1.Endpoints) int {
	n := 0
	for _, ss := range ep.Subsets {
		n += len(ss.NotReadyAddresses)
	}
	return n
}
