package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAgentBenchKubiaReady measures the time from `kubectl apply` of the kubia Deployment (3 and
// 50 replicas) to all its pods Ready, as real processes on one standalone agent, and the agent's
// memory with them. It asserts nothing about time; it reports. It runs only with SKIFF_BENCH=1:
//
//	SKIFF_BENCH=1 go test ./test/e2e -run TestAgentBenchKubiaReady -v
func TestAgentBenchKubiaReady(t *testing.T) {
	if os.Getenv("SKIFF_BENCH") == "" {
		t.Skip("set SKIFF_BENCH=1 to measure")
	}
	for _, replicas := range []int{3, 50} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			n := newAgentNet(t)
			s := startServer(t, "--runtime", "none", "--cluster-cidr", fmt.Sprintf("127.%d.0.0/16", n.k),
				"--node-cidr-mask-size", "24", "--service-cidr", fmt.Sprintf("127.%d.0.0/16", n.k+1))
			a := startAgent(t, s, "n2", n.nodeIP(2))
			c := s.client()
			waitNodeReady(t, c, "n2")
			settle(2 * time.Second) // the agent's idle memory, after start-up
			idle, idleAnon := rssKB(a.cmd.Process.Pid), anonKB(a.cmd.Process.Pid)

			start := time.Now()
			if _, errOut, err := s.run(builtinKubectl(), fmt.Sprintf(kubiaDeployment, replicas), "apply", "-f", "-"); err != nil {
				t.Fatalf("kubectl apply: %v\n%s", err, errOut)
			}
			eventually(t, 120*time.Second, fmt.Sprintf("%d pods Ready", replicas), func() bool {
				return len(podsReady(c, "app=kubia")) == replicas
			})
			elapsed := time.Since(start)
			settle(3 * time.Second) // the apps finish starting; the agent's memory settles
			busy, busyAnon := rssKB(a.cmd.Process.Pid), anonKB(a.cmd.Process.Pid)
			pods, _ := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			t.Logf("replicas=%d: apply to all Ready %s; agent RSS idle %.1f MiB (anonymous %.1f), with pods %.1f MiB (anonymous %.1f; +%.0f KiB/pod); app RSS %.1f MiB/pod of which private %.1f MiB; %d pods listed",
				replicas, elapsed.Round(time.Millisecond), float64(idle)/1024, float64(idleAnon)/1024, float64(busy)/1024, float64(busyAnon)/1024,
				float64(busyAnon-idleAnon)/float64(replicas), float64(meanOf("kubia-app", rssKB))/1024, float64(meanOf("kubia-app", anonKB))/1024, len(pods.Items))
		})
	}
}

// settle waits d without polling anything: memory figures are read after it.
func settle(d time.Duration) { <-time.After(d) }

// rssKB is a process's resident set size in KiB (shared pages of the skiff binary included).
func rssKB(pid int) int64 { return procField(pid, "status", "VmRSS:") }

// anonKB is a process's anonymous memory in KiB: what it costs beyond the shared binary.
func anonKB(pid int) int64 { return procField(pid, "smaps_rollup", "Anonymous:") }

func procField(pid int, file, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// meanOf is the mean of measure (KiB) over processes whose command line contains marker.
func meanOf(marker string, measure func(int) int64) int64 {
	pids := processesWith(marker)
	if len(pids) == 0 {
		return 0
	}
	var total int64
	for _, p := range pids {
		total += measure(p)
	}
	return total / int64(len(pids))
}
