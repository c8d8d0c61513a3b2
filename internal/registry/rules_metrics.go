package registry

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// metrics.k8s.io's NodeMetrics and PodMetrics, the resource metrics API kubectl top and the
// HorizontalPodAutoscaler read, served as metrics-server serves it: read-only, computed when
// read from what each node's agent measures (its answer is fetched then, as metrics-server
// scrapes the kubelet), labelled with the node's and the pod's labels so that label selectors
// select them. A node or pod without a measurement yet is not there, as with metrics-server
// right after a pod starts.

var verbsGetList = []string{"get", "list"}

func metricsGVR(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: resource}
}

var nodesGR = schema.GroupResource{Resource: "nodes"}

func nodeMetricsKind() Kind[*metricsv1beta1.NodeMetrics] {
	return Kind[*metricsv1beta1.NodeMetrics]{
		GVR: metricsGVR("nodes"), Kind: "NodeMetrics", Verbs: verbsGetList,
		New:     func() *metricsv1beta1.NodeMetrics { return &metricsv1beta1.NodeMetrics{} },
		NewList: func() runtime.Object { return &metricsv1beta1.NodeMetricsList{} },
		Table:   nodeMetricsPrinter(),
		Live:    liveNodeMetrics,
	}
}

func podMetricsKind() Kind[*metricsv1beta1.PodMetrics] {
	return Kind[*metricsv1beta1.PodMetrics]{
		GVR: metricsGVR("pods"), Kind: "PodMetrics", Namespaced: true, Verbs: verbsGetList,
		New:     func() *metricsv1beta1.PodMetrics { return &metricsv1beta1.PodMetrics{} },
		NewList: func() runtime.Object { return &metricsv1beta1.PodMetricsList{} },
		Table:   podMetricsPrinter(),
		Live:    livePodMetrics,
	}
}

// nodeReading is one node's answer.
type nodeReading struct {
	node *corev1.Node
	m    *metricsv1beta1.NodeMetrics
	pods []metricsv1beta1.PodMetrics
}

// readNodes asks every node in nodes for its usage, all at once; nodes that do not answer are
// left out, as metrics-server leaves out a kubelet it cannot scrape.
func readNodes(ctx context.Context, src LiveSource, nodes []*corev1.Node) []nodeReading {
	if src.NodeUsage == nil {
		return nil
	}
	out := make([]nodeReading, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			m, pods, err := src.NodeUsage(ctx, n)
			if err == nil {
				out[i] = nodeReading{node: n, m: m, pods: pods}
			}
		})
	}
	wg.Wait()
	return out
}

func nodesOf(src LiveSource, name string) []*corev1.Node {
	var out []*corev1.Node
	for _, o := range src.List(nodesGR, "") {
		if n, ok := o.(*corev1.Node); ok && (name == "" || n.Name == name) {
			out = append(out, n)
		}
	}
	return out
}

func liveNodeMetrics(ctx context.Context, src LiveSource, _, name string) ([]*metricsv1beta1.NodeMetrics, error) {
	var out []*metricsv1beta1.NodeMetrics
	for _, r := range readNodes(ctx, src, nodesOf(src, name)) {
		if r.m == nil || r.m.Usage == nil {
			continue
		}
		m := r.m.DeepCopy()
		m.Name, m.Labels = r.node.Name, r.node.Labels
		out = append(out, m)
	}
	if name != "" && len(out) == 0 {
		return nil, apierrors.NewNotFound(metricsGVR("nodes").GroupResource(), name)
	}
	return out, nil
}

func livePodMetrics(ctx context.Context, src LiveSource, namespace, name string) ([]*metricsv1beta1.PodMetrics, error) {
	// The pods asked for, and the nodes they run on.
	pods := map[string]*corev1.Pod{}
	onNodes := map[string]bool{}
	for _, o := range src.List(podsGR, namespace) {
		p, ok := o.(*corev1.Pod)
		if !ok || (name != "" && p.Name != name) || p.Spec.NodeName == "" {
			continue
		}
		pods[p.Namespace+"/"+p.Name] = p
		onNodes[p.Spec.NodeName] = true
	}
	var nodes []*corev1.Node
	for _, n := range nodesOf(src, "") {
		if onNodes[n.Name] {
			nodes = append(nodes, n)
		}
	}
	var out []*metricsv1beta1.PodMetrics
	for _, r := range readNodes(ctx, src, nodes) {
		for i := range r.pods {
			pm := &r.pods[i]
			p := pods[pm.Namespace+"/"+pm.Name]
			if p == nil || p.Spec.NodeName != r.node.Name || len(pm.Containers) == 0 {
				continue
			}
			m := pm.DeepCopy()
			m.Labels = p.Labels
			out = append(out, m)
		}
	}
	if name != "" && len(out) == 0 {
		// metrics-server names the pod with its namespace.
		return nil, apierrors.NewNotFound(metricsGVR("pods").GroupResource(), namespace+"/"+name)
	}
	return out, nil
}

// usageColumns are metrics-server's table: the name, then each resource's usage and the
// window it was measured over.
func usageColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "cpu", Type: "string", Format: "quantity", Description: "CPU usage, in cores, averaged over the window."},
		{Name: "memory", Type: "string", Format: "quantity", Description: "Memory in use (working set), in bytes."},
		{Name: "Window", Type: "string", Format: "duration", Description: "The window the CPU usage was averaged over."},
	}
}

func usageCells(name string, usage corev1.ResourceList, window metav1.Duration) []interface{} {
	cpu, mem := usage[corev1.ResourceCPU], usage[corev1.ResourceMemory]
	return []interface{}{name, cpu.String(), mem.String(), window.Duration.String()}
}

func nodeMetricsPrinter() printer {
	return printer{
		columns: usageColumns(),
		row: rowFor(func(m *metricsv1beta1.NodeMetrics, _ time.Time) []interface{} {
			return usageCells(m.Name, m.Usage, m.Window)
		}),
	}
}

func podMetricsPrinter() printer {
	return printer{
		columns: usageColumns(),
		row: rowFor(func(m *metricsv1beta1.PodMetrics, _ time.Time) []interface{} {
			sum := corev1.ResourceList{}
			for _, c := range m.Containers {
				for k, v := range c.Usage {
					q := sum[k]
					q.Add(v)
					sum[k] = q
				}
			}
			return usageCells(m.Name, sum, m.Window)
		}),
	}
}
