package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Chapter 9 through a Service: every test sends requests to the NodePort, one connection each,
// while the Deployment behind it changes, and counts the requests that fail.

// waitOnly waits until every kubia pod left runs image tag version (old pods fully gone).
func (e *svcEnv) waitOnly(version string) {
	e.t.Helper()
	eventually(e.t, 90*time.Second, "only "+version+" pods left", func() bool {
		pods, err := e.c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=kubia"})
		if err != nil || len(pods.Items) == 0 {
			return false
		}
		for _, p := range pods.Items {
			if !strings.HasSuffix(p.Spec.Containers[0].Image, ":"+version) {
				return false
			}
		}
		return true
	})
}

func TestServiceRollingUpdateDropsNoRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec kubiaSpec
	}{
		{name: "default strategy", spec: kubiaSpec{version: "v1"}},
		{name: "maxSurge 1 maxUnavailable 0", spec: kubiaSpec{version: "v1", maxSurge: "1", maxUnavailable: "0"}},
		{name: "minReadySeconds", spec: kubiaSpec{version: "v1", minReady: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := startSvcEnv(t)
			e.apply(kubiaService("app: kubia"))
			e.apply(tt.spec.yaml())
			e.waitServed(3)

			l := startSvcLoad(t, e.target, 100000, 4*time.Minute)
			e.waitMore(l, 50)
			e.kubectl("set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2")
			e.kubectl("rollout", "status", "deployment", "kubia", "--timeout=180s")
			e.waitOnly("v2")
			e.waitMore(l, 100)
			reqs := l.finish()

			report(t, "rolling update v1→v2, "+tt.name, reqs)
			if f := failures(reqs); len(f) > 0 {
				t.Errorf("%d requests failed during the rolling update; first: %s", len(f), f[0].err)
			}
			if reqs[0].version != "v1" {
				t.Errorf("first answer from %q; want v1", reqs[0].version)
			}
			if last := lastVersions(reqs, 100); last["v2"] != 100 {
				t.Errorf("last 100 answers by version %v; want all v2", last)
			}
		})
	}
}

// TestServiceBadVersionStallsThenUndo: the chapter's v3, which fails from its fifth request on,
// with a readiness probe every second, minReadySeconds 10, maxSurge 1 and maxUnavailable 0. The
// rollout stalls with one unready v3 pod; once its probe has failed every request goes to v1;
// `kubectl rollout undo` brings back three v1 pods without a failed request.
func TestServiceBadVersionStallsThenUndo(t *testing.T) {
	e := startSvcEnv(t)
	e.apply(kubiaService("app: kubia"))
	e.apply(kubiaSpec{version: "v1"}.yaml())
	e.waitServed(3)
	v1Ready, _ := e.readyAddresses()

	l := startSvcLoad(t, e.target, 100000, 4*time.Minute)
	e.waitMore(l, 50)
	e.apply(kubiaSpec{version: "v3", minReady: 10, maxSurge: "1", maxUnavailable: "0", readinessProbe: true}.yaml())

	// The v3 pod starts unready, turns Ready at its first probe, answers four requests (the
	// probe's and ours) and then only fails: after failureThreshold failed probes it is a
	// not-ready address again, for good.
	var bad string
	eventually(t, 60*time.Second, "the v3 pod Ready", func() bool {
		ready, _ := e.readyAddresses()
		for _, n := range ready {
			if !slices.Contains(v1Ready, n) {
				bad = n
				return true
			}
		}
		return false
	})
	eventually(t, 60*time.Second, "the v3 pod's readiness probe failing", func() bool {
		ready, notReady := e.readyAddresses()
		return slices.Contains(notReady, bad) && len(ready) == 3
	})
	probeFailed := time.Now()
	e.waitMore(l, 200)
	if out, _, err := e.s.run(e.k, "", "rollout", "status", "deployment", "kubia", "--timeout=2s"); err == nil || !strings.Contains(out, "1 out of 3 new replicas have been updated") {
		t.Errorf("rollout status while stalled (err %v):\n%s", err, out)
	}
	if ready, _ := e.readyAddresses(); strings.Join(ready, ",") != strings.Join(v1Ready, ",") {
		t.Errorf("ready endpoints while stalled: %v; want the v1 pods %v", ready, v1Ready)
	}

	e.kubectl("rollout", "undo", "deployment", "kubia")
	e.kubectl("rollout", "status", "deployment", "kubia", "--timeout=120s")
	e.waitOnly("v1")
	e.waitMore(l, 100)
	reqs := l.finish()

	var before, after []svcRequest
	for _, r := range reqs {
		if r.start.Before(probeFailed) {
			before = append(before, r)
		} else {
			after = append(after, r)
		}
	}
	report(t, "v3 rollout until its probe failed", before)
	report(t, "stalled rollout and undo, after the probe failed", after)
	t.Logf("unready v3 pod: %s", bad)
	if f := failures(after); len(f) > 0 {
		t.Errorf("%d requests failed after the v3 pod's probe failed; first: %s", len(f), f[0].err)
	}
	if v := versions(after); v["v1"] != len(after) {
		t.Errorf("answers after the probe failed by version %v; want v1 only", v)
	}
}

// TestServiceBlueGreen: two Deployments, v1 and v2, and `kubectl set selector` on the Service
// switches all traffic at once, with no failed request and no v1 answer after the first v2 one.
func TestServiceBlueGreen(t *testing.T) {
	e := startSvcEnv(t)
	e.apply(kubiaService("app: kubia, version: v1"))
	e.apply(kubiaSpec{name: "kubia-v1", version: "v1", labels: "version: v1"}.yaml())
	e.apply(kubiaSpec{name: "kubia-v2", version: "v2", labels: "version: v2"}.yaml())
	e.waitServed(3)
	eventually(t, 90*time.Second, "three v2 pods ready", func() bool { return len(podsReady(e.c, "app=kubia,version=v2")) == 3 })

	l := startSvcLoad(t, e.target, 100000, 3*time.Minute)
	e.waitMore(l, 100)
	e.kubectl("set", "selector", "service", "kubia", "app=kubia,version=v2")
	eventually(t, 30*time.Second, "a v2 answer", func() bool { return versions(l.snapshot())["v2"] > 0 })
	e.waitMore(l, 200)
	reqs := l.finish()

	report(t, "blue-green switch", reqs)
	if f := failures(reqs); len(f) > 0 {
		t.Errorf("%d requests failed; first: %s", len(f), f[0].err)
	}
	switched := false
	for i, r := range reqs {
		switched = switched || r.version == "v2"
		if switched && r.version == "v1" {
			t.Fatalf("request %d answered by v1 after the switch to v2", i)
		}
	}
	if reqs[0].version != "v1" {
		t.Errorf("first answer %q; want v1", reqs[0].version)
	}
}

// TestServiceCanaryPauseResume: `kubectl rollout pause` right after `set image` leaves one v4
// pod beside the v1 ones, and answers mix; `rollout resume` finishes the rollout.
func TestServiceCanaryPauseResume(t *testing.T) {
	e := startSvcEnv(t)
	e.apply(kubiaService("app: kubia"))
	// minReadySeconds holds the rollout at one new pod for a few seconds, so the pause lands
	// before it goes further.
	e.apply(kubiaSpec{version: "v1", minReady: 3, maxSurge: "1", maxUnavailable: "0"}.yaml())
	e.waitServed(3)

	l := startSvcLoad(t, e.target, 100000, 4*time.Minute)
	e.waitMore(l, 50)
	e.kubectl("set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v4")
	e.kubectl("rollout", "pause", "deployment", "kubia")
	eventually(t, 60*time.Second, "three v1 and one v4 pods ready", func() bool {
		ready, _ := e.readyAddresses()
		return len(ready) == 4
	})
	mixStart := l.count()
	e.waitMore(l, 300)
	if v := versions(l.snapshot()[mixStart:]); v["v1"] == 0 || v["v4"] == 0 {
		t.Errorf("answers while paused by version %v; want a mix of v1 and v4", v)
	}
	if out := e.kubectl("rollout", "status", "deployment", "kubia", "--watch=false"); !strings.Contains(out, "1 out of 3 new replicas have been updated") {
		t.Errorf("rollout status while paused:\n%s", out)
	}

	e.kubectl("rollout", "resume", "deployment", "kubia")
	e.kubectl("rollout", "status", "deployment", "kubia", "--timeout=180s")
	e.waitOnly("v4")
	e.waitMore(l, 100)
	reqs := l.finish()

	report(t, "canary v1→v4 with pause and resume", reqs)
	if f := failures(reqs); len(f) > 0 {
		t.Errorf("%d requests failed; first: %s", len(f), f[0].err)
	}
	if last := lastVersions(reqs, 100); last["v4"] != 100 {
		t.Errorf("last 100 answers by version %v; want all v4", last)
	}
}

// TestServiceRecreate: with the Recreate strategy every old pod goes before a new one starts, so
// requests fail, but only inside the window without a pod: after the update is issued and before
// the first answer from a new pod; none before, none after.
func TestServiceRecreate(t *testing.T) {
	e := startSvcEnv(t)
	e.apply(kubiaService("app: kubia"))
	e.apply(kubiaSpec{version: "v1", strategy: "Recreate"}.yaml())
	e.waitServed(3)
	v1Pods, _ := e.readyAddresses()

	// Watch kubia's Endpoints for the moment a new pod is a ready address (for the log).
	w, err := e.c.CoreV1().Endpoints("default").Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=kubia"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	newReady := make(chan time.Time, 1)
	go func() {
		for ev := range w.ResultChan() {
			ep, ok := ev.Object.(*corev1.Endpoints)
			if !ok || (ev.Type != watch.Modified && ev.Type != watch.Added) {
				continue
			}
			var ready []string
			for _, ss := range ep.Subsets {
				for _, a := range ss.Addresses {
					if a.TargetRef != nil {
						ready = append(ready, a.TargetRef.Name)
					}
				}
			}
			if len(ready) > 0 && !containsAny(v1Pods, ready) {
				newReady <- time.Now()
				return
			}
		}
	}()

	l := startSvcLoad(t, e.target, 100000, 3*time.Minute)
	e.waitMore(l, 50)
	updated := time.Now()
	e.kubectl("set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2")
	e.kubectl("rollout", "status", "deployment", "kubia", "--timeout=120s")
	e.waitOnly("v2")
	e.waitMore(l, 100)
	reqs := l.finish()

	report(t, "Recreate v1→v2", reqs)
	var firstV2 time.Time
	for _, r := range reqs {
		if r.version == "v2" {
			firstV2 = r.end
			break
		}
	}
	select {
	case at := <-newReady:
		t.Logf("update to first v2 endpoint %v, to first v2 answer %v", at.Sub(updated).Round(time.Millisecond), firstV2.Sub(updated).Round(time.Millisecond))
	default:
		t.Logf("update to first v2 answer %v", firstV2.Sub(updated).Round(time.Millisecond))
	}
	if firstV2.IsZero() {
		t.Fatal("no answer from v2")
	}
	for _, r := range failures(reqs) {
		if r.end.Before(updated) || r.start.After(firstV2) {
			t.Errorf("a request failed outside the window without pods (started %+v after the update): %s",
				r.start.Sub(updated).Round(time.Millisecond), r.err)
		}
	}
	if last := lastVersions(reqs, 100); last["v2"] != 100 {
		t.Errorf("last 100 answers by version %v; want all v2", last)
	}
}

// containsAny reports whether any of names is in set.
func containsAny(set, names []string) bool {
	for _, n := range names {
		for _, s := range set {
			if n == s {
				return true
			}
		}
	}
	return false
}
