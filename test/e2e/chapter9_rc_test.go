package e2e

import (
	"regexp"
	"strings"
	"time"
)

// The chapter's first half, sections 9.1 and 9.2: updating pods by hand and with the obsolete
// client-side rolling update of a ReplicationController. TestChapter9 runs them in order.

// 9.1.1: change the RC's template, delete its pods, and the RC recreates them from the new one.
func ch9DeleteAndRecreate(c *ch9) {
	c.step("kubectl create -f kubia-rc-and-service-v1.yaml", func() {
		c.wantExactly("create", c.run("kubectl", "create", "-f", "kubia-rc-and-service-v1.yaml"),
			`replicationcontroller/kubia-v1 created`,
			`service/kubia created`)
	})
	var before string
	c.step("kubectl get po", func() {
		before = c.eventually("3 kubia-v1 pods Running", 90*time.Second, func(out string) bool {
			return ch9PodsAre(out, "kubia-v1-", 3)
		}, "kubectl", "get", "po")
	})
	c.step("skiff service list", func() {
		c.want("service list", c.run("skiff", "service", "list"),
			`\| default\s+\| kubia\s+\| 80\s+\| http://`+regexp.QuoteMeta(c.nodeIP)+`:30123 \|`)
	})
	c.step("curl http://NODE_IP:30123: v1", func() {
		c.waitServed(3)
		c.curlUntil("v1", 3)
	})

	c.step("kubectl set image rc kubia-v1 nodejs=luksa/kubia:v2", func() {
		c.wantExactly("set image", c.run("kubectl", "set", "image", "rc", "kubia-v1", "nodejs=luksa/kubia:v2"),
			`replicationcontroller/kubia-v1 image updated`)
	})
	c.step("kubectl get po -o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image: the same pods, still v1", func() {
		out := c.run("kubectl", "get", "po", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image")
		rows := ch9Table(out)
		if len(rows) != 3 {
			c.t.Fatalf("want the 3 pods:\n%s", out)
		}
		for _, r := range rows {
			if r["IMAGE"] != "luksa/kubia:v1" || !strings.Contains(before, r["NAME"]) {
				c.t.Fatalf("a template change must not touch existing pods:\n%s", out)
			}
		}
	})
	c.step("curl: still v1", func() { c.curlUntil("v1", 3) })
	loop := c.startLoop(2000, 2*time.Minute)
	c.step("kubectl delete po -l app=kubia", func() {
		out := c.run("kubectl", "delete", "po", "-l", "app=kubia")
		c.wantExactly("delete", out, c.deleted(`pod "kubia-v1-\w{5}"`), c.deleted(`pod "kubia-v1-\w{5}"`), c.deleted(`pod "kubia-v1-\w{5}"`))
	})
	c.step("kubectl get po: 3 new pods running v2", func() {
		c.eventually("3 new kubia-v1 pods running v2", 90*time.Second, func(out string) bool {
			rows := ch9Table(out)
			for _, r := range rows {
				if strings.Contains(before, r["NAME"]) || r["IMAGE"] != "luksa/kubia:v2" {
					return false
				}
			}
			return len(rows) == 3
		}, "kubectl", "get", "po", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image")
		c.eventually("3 kubia-v1 pods Running", 90*time.Second, func(out string) bool {
			return ch9PodsAre(out, "kubia-v1-", 3)
		}, "kubectl", "get", "po")
	})
	c.step("curl: v2, after an interruption", func() {
		c.curlUntil("v2", 5)
		as := loop.finish()
		c.t.Logf("while the pods were replaced: %d requests, answers %v", len(as), ch9Versions(as))
	})
	c.step("kubectl delete -f kubia-rc-and-service-v1.yaml", func() {
		c.wantExactly("delete", c.run("kubectl", "delete", "-f", "kubia-rc-and-service-v1.yaml"),
			c.deleted(`replicationcontroller "kubia-v1"`),
			c.deleted(`service "kubia"`))
		c.waitNoPods("kubectl delete -f kubia-rc-and-service-v1.yaml")
	})
}

// 9.1.2: blue-green by hand: a second ReplicaSet next to the first, then one selector change.
func ch9BlueGreen(c *ch9) {
	c.step("kubectl create -f kubia-rs-blue.yaml -f kubia-svc-blue-green.yaml", func() {
		c.wantExactly("create", c.run("kubectl", "create", "-f", "kubia-rs-blue.yaml", "-f", "kubia-svc-blue-green.yaml"),
			`replicaset.apps/kubia-blue created`,
			`service/kubia created`)
		c.eventually("3 blue pods Running", 90*time.Second, func(out string) bool {
			return ch9PodsAre(out, "kubia-blue-", 3)
		}, "kubectl", "get", "po")
	})
	c.step("curl: blue answers, v1", func() { c.curlUntil("v1", 3) })
	c.step("kubectl create -f kubia-rs-green.yaml", func() {
		c.wantExactly("create", c.run("kubectl", "create", "-f", "kubia-rs-green.yaml"), `replicaset.apps/kubia-green created`)
	})
	c.step("kubectl get rs: blue and green both ready", func() {
		c.eventually("both ReplicaSets ready", 90*time.Second, func(out string) bool {
			ready := 0
			for _, r := range ch9Table(out) {
				if (r["NAME"] == "kubia-blue" || r["NAME"] == "kubia-green") && r["DESIRED"] == "3" && r["CURRENT"] == "3" && r["READY"] == "3" {
					ready++
				}
			}
			return ready == 2
		}, "kubectl", "get", "rs")
	})
	c.step("curl: still only blue (v1)", func() {
		if v := ch9Versions(c.curl(10)); v["v1"] != 10 {
			c.t.Fatalf("green must get no traffic before the switch: %v", v)
		}
	})
	c.step("kubectl set selector service kubia app=kubia,color=green", func() {
		c.wantExactly("set selector", c.run("kubectl", "set", "selector", "service", "kubia", "app=kubia,color=green"),
			`service/kubia selector updated`)
		c.want("get svc", c.run("kubectl", "get", "svc", "kubia", "-o", "wide"),
			`NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR`,
			`kubia\s+NodePort\s+\S+\s+<none>\s+80:30123/TCP\s+\S+\s+app=kubia,color=green`)
	})
	c.step("curl: green answers, v2", func() { c.curlUntil("v2", 5) })
	c.step("kubectl delete rs kubia-blue", func() {
		c.wantExactly("delete", c.run("kubectl", "delete", "rs", "kubia-blue"), c.deleted(`replicaset.apps "kubia-blue"`))
	})
	c.step("kubectl delete -f kubia-rs-green.yaml -f kubia-svc-blue-green.yaml", func() {
		c.wantExactly("delete", c.run("kubectl", "delete", "-f", "kubia-rs-green.yaml", "-f", "kubia-svc-blue-green.yaml"),
			c.deleted(`replicaset.apps "kubia-green"`),
			c.deleted(`service "kubia"`))
		c.waitNoPods("deleting the blue and green ReplicaSets")
	})
}

// 9.2.1: the initial version, an RC behind a NodePort Service.
func ch9InitialRC(c *ch9) {
	c.step("kubectl create -f kubia-rc-and-service-v1.yaml", func() {
		c.wantExactly("create", c.run("kubectl", "create", "-f", "kubia-rc-and-service-v1.yaml"),
			`replicationcontroller/kubia-v1 created`,
			`service/kubia created`)
		c.eventually("3 kubia-v1 pods Running", 90*time.Second, func(out string) bool {
			return ch9PodsAre(out, "kubia-v1-", 3)
		}, "kubectl", "get", "po")
	})
	c.step("skiff service list", func() {
		c.want("service list", c.run("skiff", "service", "list"),
			`\| default\s+\| kubia\s+\| 80\s+\| http://`+regexp.QuoteMeta(c.nodeIP)+`:30123 \|`)
	})
	c.step("curl: v1", func() { c.curlUntil("v1", 3) })
}

// ch9UpdateFlags shorten `skiff rolling-update`'s minute between steps for the test.
var ch9UpdateFlags = []string{"--update-period=2s", "--poll-interval=250ms"}

// 9.2.2: skiff rolling-update, the obsolete client-side way, watched while it runs.
func ch9RollingUpdate(c *ch9) {
	loop := c.startLoop(5000, 3*time.Minute)
	var p *ch9Process
	c.step("skiff rolling-update kubia-v1 kubia-v2 --image=luksa/kubia:v2 (update period 2s instead of 1m)", func() {
		p = c.start(append([]string{"skiff", "rolling-update", "kubia-v1", "kubia-v2", "--image=luksa/kubia:v2"}, ch9UpdateFlags...)...)
		p.waitLine(c.t, `^Created kubia-v2$`, 60*time.Second)
	})
	c.step("kubectl describe rc kubia-v2: the deployment label in its selector", func() {
		c.want("describe", c.run("kubectl", "describe", "rc", "kubia-v2"),
			`Name:\s+kubia-v2`,
			`Selector:\s+app=kubia,deployment=[0-9a-f]{32}`)
	})
	c.step("kubectl describe rc kubia-v1: the old one got a deployment label too", func() {
		c.want("describe", c.run("kubectl", "describe", "rc", "kubia-v1"),
			`Name:\s+kubia-v1`,
			`Selector:\s+app=kubia,deployment=[0-9a-f]{32}-orig`)
	})
	c.step("kubectl get po --show-labels: so did the old pods", func() {
		out := c.run("kubectl", "get", "po", "--show-labels")
		old := 0
		for _, r := range ch9Table(out) {
			if strings.HasPrefix(r["NAME"], "kubia-v1-") {
				old++
				if !regexp.MustCompile(`^app=kubia,deployment=[0-9a-f]{32}-orig$`).MatchString(r["LABELS"]) {
					c.t.Fatalf("old pod %s not relabelled:\n%s", r["NAME"], out)
				}
			}
		}
		if old == 0 {
			c.t.Fatalf("no old pods left to look at:\n%s", out)
		}
	})
	c.step("rolling-update output", func() {
		out, err := p.wait()
		if err != nil {
			c.t.Fatalf("skiff rolling-update: %v\nstdout:\n%s\nstderr:\n%s", err, out, p.stderr.String())
		}
		c.t.Logf("skiff rolling-update printed:\n%s", out)
		c.wantExactly("rolling-update", out,
			`Created kubia-v2`,
			`Scaling up kubia-v2 from 0 to 3, scaling down kubia-v1 from 3 to 0 \(keep 3 pods available, don't exceed 4 pods\)`,
			`Scaling kubia-v2 up to 1`,
			`Scaling kubia-v1 down to 2`,
			`Scaling kubia-v2 up to 2`,
			`Scaling kubia-v1 down to 1`,
			`Scaling kubia-v2 up to 3`,
			`Scaling kubia-v1 down to 0`,
			`Update succeeded. Deleting kubia-v1`,
			`replicationcontroller "kubia-v1" rolling updated to "kubia-v2"`)
	})
	c.step("curl loop: v1, then v1 and v2, then v2", func() {
		c.curlUntil("v2", 5)
		as := loop.finish()
		v := ch9Versions(as)
		c.t.Logf("during the rolling update: %d requests, answers %v", len(as), v)
		if v["v1"] == 0 || v["v2"] == 0 {
			c.t.Fatalf("want answers from both versions during the update: %v", v)
		}
	})
	c.step("kubectl get rc: kubia-v2 only, its deployment label stays", func() {
		c.wantExactly("get rc", c.run("kubectl", "get", "rc", "-o", "wide"),
			`NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR`,
			`kubia-v2\s+3\s+3\s+3\s+\S+\s+nodejs\s+luksa/kubia:v2\s+app=kubia,deployment=[0-9a-f]{32}`)
	})
}

// 9.2.3: --v=6 shows each request the client sends; roll back to v1 to see them.
func ch9RollingUpdateVerbose(c *ch9) {
	c.step("skiff rolling-update kubia-v2 kubia-v1 --image=luksa/kubia:v1 --v=6", func() {
		out, errOut, err := c.sh(3*time.Minute, append([]string{"skiff", "rolling-update", "kubia-v2", "kubia-v1", "--image=luksa/kubia:v1", "--v=6"}, ch9UpdateFlags...)...)
		if err != nil {
			c.t.Fatalf("rolling-update: %v\n%s%s", err, out, errOut)
		}
		c.want("stdout", out, `Created kubia-v1`, `replicationcontroller "kubia-v2" rolling updated to "kubia-v1"`)
		api := `url="https://127\.0\.0\.1:\d+/api/v1/namespaces/default/`
		for _, req := range []string{
			`verb="GET" ` + api + `replicationcontrollers/kubia-v2" status="200 OK"`,
			`verb="POST" ` + api + `replicationcontrollers" status="201 Created"`,
			`verb="PUT" ` + api + `replicationcontrollers/kubia-v1/scale" status="200 OK"`,
			`verb="GET" ` + api + `pods\?labelSelector=app%3Dkubia%2Cdeployment%3D[0-9a-f]{32}" status="200 OK"`,
			`verb="DELETE" ` + api + `replicationcontrollers/kubia-v2" status="200 OK"`,
		} {
			if !regexp.MustCompile(`round_trippers\.go:\d+\] "Response" ` + req).MatchString(errOut) {
				c.t.Fatalf("--v=6 output lacks a request line matching %s:\n%s", req, errOut)
			}
		}
	})
	c.step("curl: v1 again", func() { c.curlUntil("v1", 5) })
}
