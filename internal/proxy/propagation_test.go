package proxy_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkPodDeletionPropagation measures how long a deleted pod takes to leave this node's
// proxy: from the API call that deletes it to WaitUntilNotServing returning in the agent,
// through the API server's watch, the endpoints controller, the EndpointSlice write and the
// proxy's watch. It reports the mean and the maximum as ms/removal and max-ms.
func BenchmarkPodDeletionPropagation(b *testing.B) {
	c := startCluster(b, true)
	c.createService(30123)
	c.createPod("kubia-0", "v1")
	c.waitFor("kubia-0 ready", func() bool { return slices.Contains(c.readyPods(), "kubia-0") })
	var total, worst time.Duration
	n := 0
	for b.Loop() {
		next, old := fmt.Sprintf("kubia-%d", n+1), fmt.Sprintf("kubia-%d", n)
		c.createPod(next, "v1")
		c.waitFor(next+" ready", func() bool { return slices.Contains(c.readyPods(), next) })
		c.agent.deleting(old)
		if err := c.client.CoreV1().Pods("default").Delete(context.Background(), old, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		var d time.Duration
		c.waitFor(old+" out of rotation", func() bool {
			var ok bool
			d, ok = c.agent.outOfRotation()[old]
			return ok
		})
		total += d
		worst = max(worst, d)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/float64(n)/1000, "ms/removal")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}
