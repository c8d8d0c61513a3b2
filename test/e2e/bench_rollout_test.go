package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cpuSeconds returns the user+system CPU time pid has used.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// BenchmarkDeployment1000 creates a 1,000-replica Deployment on a fake node, waits until every
// replica is available, then rolls it to a new image with the default strategy and waits again.
// It reports both times and the server's CPU seconds for each.
func BenchmarkDeployment1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s, stop := benchServer(b, "--runtime", "fake")
		c := benchClient(b, s, "application/vnd.kubernetes.protobuf")
		ctx := context.Background()
		replicas := int32(1000)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "kubia"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
				},
			},
		}
		wait := func() {
			eventually(b, 5*time.Minute, "1,000 replicas rolled out", func() bool {
				d, err := c.AppsV1().Deployments("default").Get(ctx, "kubia", metav1.GetOptions{})
				return err == nil && d.Generation <= d.Status.ObservedGeneration && d.Status.UpdatedReplicas == replicas &&
					d.Status.Replicas == replicas && d.Status.AvailableReplicas == replicas
			})
		}
		pid := s.cmd.Process.Pid
		cpu0, t0 := cpuSeconds(pid), time.Now()
		if _, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		wait()
		createTime, cpu1 := time.Since(t0), cpuSeconds(pid)
		t1 := time.Now()
		patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"nodejs","image":"luksa/kubia:v2"}]}}}}`)
		if _, err := c.AppsV1().Deployments("default").Patch(ctx, "kubia", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		wait()
		rollTime, cpu2 := time.Since(t1), cpuSeconds(pid)
		stop()
		b.ReportMetric(createTime.Seconds(), "create-s")
		b.ReportMetric(cpu1-cpu0, "create-cpu-s")
		b.ReportMetric(rollTime.Seconds(), "roll-s")
		b.ReportMetric(cpu2-cpu1, "roll-cpu-s")
	}
}
