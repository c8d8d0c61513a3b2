package apiserver_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/skiff-dev/skiff/internal/apiserver"
	"github.com/skiff-dev/skiff/internal/apiserver/apiservertest"
)

// agentReadings stands in for node agents: each node reports its pods (those bound to it,
// from the server's own objects) with fixed usage, and node "down" does not answer.
func agentReadings(client func() kubernetes.Interface) func(ctx context.Context, node *corev1.Node) (*metricsv1beta1.NodeMetrics, []metricsv1beta1.PodMetrics, error) {
	return func(ctx context.Context, node *corev1.Node) (*metricsv1beta1.NodeMetrics, []metricsv1beta1.PodMetrics, error) {
		if node.Name == "down" {
			return nil, nil, fmt.Errorf("node %s does not answer", node.Name)
		}
		usage := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
		now := metav1.NewTime(time.Now())
		nm := &metricsv1beta1.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: node.Name}, Timestamp: now, Window: metav1.Duration{Duration: 10 * time.Second}, Usage: usage}
		pods, err := client().CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node.Name})
		if err != nil {
			return nil, nil, err
		}
		var pms []metricsv1beta1.PodMetrics
		for _, p := range pods.Items {
			pm := metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}, Timestamp: now, Window: nm.Window}
			for _, c := range p.Spec.Containers {
				pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: usage})
			}
			pms = append(pms, pm)
		}
		return nm, pms, nil
	}
}

func TestMetricsAPI(t *testing.T) {
	var client kubernetes.Interface
	srv, ctx := apiservertest.Start(t, func(cfg *apiserver.Config) {
		cfg.NodeUsage = agentReadings(func() kubernetes.Interface { return client })
	})
	client = kubernetes.NewForConfigOrDie(srv.LoopbackConfig())
	// Protobuf, as kubectl top asks for it.
	pcfg := srv.LoopbackConfig()
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	mc := metricsclient.NewForConfigOrDie(pcfg)

	for _, name := range []string{"n1", "n2", "down"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"zone": "z-" + name}}}
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, spec := range []struct{ name, node, app string }{{"web-1", "n1", "web"}, {"web-2", "n2", "web"}, {"db", "n1", "db"}, {"lost", "down", "web"}} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: spec.name, Namespace: "default", Labels: map[string]string{"app": spec.app}},
			Spec: corev1.PodSpec{NodeName: spec.node, Containers: []corev1.Container{
				{Name: "main", Image: "kubia"}, {Name: fmt.Sprintf("side-%d", i), Image: "kubia"}}},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Discovery lists the group, as kubectl top checks.
	groups, err := client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool { return g.Name == "metrics.k8s.io" }) {
		t.Fatalf("discovery has no metrics.k8s.io: %v", groups.Groups)
	}

	nodes, err := mc.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
		if n.Labels["zone"] != "z-"+n.Name || n.Usage.Cpu().MilliValue() != 250 {
			t.Errorf("node metrics %s: labels %v, usage %v", n.Name, n.Labels, n.Usage)
		}
	}
	if !slices.Equal(names, []string{"n1", "n2"}) {
		t.Errorf("node metrics of %v, want n1 and n2 (down does not answer)", names)
	}
	if _, err := mc.MetricsV1beta1().NodeMetricses().Get(ctx, "down", metav1.GetOptions{}); !apierrors.IsNotFound(err) || err.Error() != `nodes.metrics.k8s.io "down" not found` {
		t.Errorf("get of an unanswering node's metrics: %v", err)
	}

	pods, err := mc.MetricsV1beta1().PodMetricses("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, p := range pods.Items {
		names = append(names, p.Name)
		if p.Labels["app"] != "web" || len(p.Containers) != 2 {
			t.Errorf("pod metrics %s: labels %v, containers %v", p.Name, p.Labels, p.Containers)
		}
	}
	if !slices.Equal(names, []string{"web-1", "web-2"}) {
		t.Errorf("pod metrics for app=web: %v, want web-1 and web-2", names)
	}
	pm, err := mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "db", metav1.GetOptions{})
	if err != nil || pm.Name != "db" || pm.Containers[0].Usage.Memory().Value() != 64<<20 {
		t.Errorf("get db's metrics: %v %v", pm, err)
	}
	_, err = mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "missing", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `pods.metrics.k8s.io "default/missing" not found` {
		t.Errorf("get of a missing pod's metrics: %v", err)
	}
	if all, err := mc.MetricsV1beta1().PodMetricses("").List(ctx, metav1.ListOptions{}); err != nil || len(all.Items) != 3 {
		t.Errorf("pod metrics in every namespace: %d items, %v", len(all.Items), err)
	}
	// Read-only, as metrics-server.
	if _, err := mc.MetricsV1beta1().PodMetricses("default").Watch(ctx, metav1.ListOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("watch of pod metrics: %v, want MethodNotSupported", err)
	}
}
