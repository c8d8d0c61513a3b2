package agent

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/skiff-dev/skiff/internal/agent/process"
)

// Resource usage for metrics.k8s.io (kubectl top), measured as metrics-server measures it from
// the kubelet: CPU is a rate, the growth of cumulative CPU time over a window; memory is what
// is in use now. The agent keeps the last two CPU readings of every container and of the node
// (taken every usageInterval, and on demand for containers it has not seen yet), and answers a
// request with the rate from the most recent reading at least minUsageWindow old to a fresh one.

const (
	usageInterval  = 10 * time.Second
	minUsageWindow = time.Second
)

// usageReader is what a runtime offers when it can measure its containers (the process
// runtime); other runtimes report no pod usage.
type usageReader interface {
	Usage(ids []string) map[string]process.Usage
}

var _ usageReader = (*process.Runtime)(nil)

// Usage is an agent's answer to a resource usage read: its node's and its running pods'.
type Usage struct {
	Node metricsv1beta1.NodeMetrics  `json:"node"`
	Pods []metricsv1beta1.PodMetrics `json:"pods"`
}

type cpuReading struct {
	at  time.Time
	cpu time.Duration
}

// cpuHistory is the last two readings of one cumulative CPU counter.
type cpuHistory struct{ prev, last cpuReading }

func (h *cpuHistory) add(r cpuReading) { h.prev, h.last = h.last, r }

// rate is the CPU used per second (cores) between the most recent reading at least
// minUsageWindow before now and now, and that window; false when there is no such reading.
func (h *cpuHistory) rate(now cpuReading) (float64, time.Duration, bool) {
	for _, r := range []cpuReading{h.last, h.prev} {
		window := now.at.Sub(r.at)
		if r.at.IsZero() || window < minUsageWindow {
			continue
		}
		used := max(now.cpu-r.cpu, 0)
		return used.Seconds() / window.Seconds(), window, true
	}
	return 0, 0, false
}

// usageSampler holds the CPU histories of an agent's containers and node.
type usageSampler struct {
	mu   sync.Mutex // guards the fields below
	ctrs map[string]*cpuHistory
	node cpuHistory
}

func newUsageSampler() *usageSampler { return &usageSampler{ctrs: map[string]*cpuHistory{}} }

// runningContainer is a running container of a pod the agent runs.
type runningContainer struct {
	pod  *corev1.Pod
	name string
	id   string
}

// runningContainers lists the current instance of every container of the agent's pods.
func (a *Agent) runningContainers() []runningContainer {
	a.mu.Lock()
	workers := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	var out []runningContainer
	for _, w := range workers {
		w.mu.Lock()
		if w.pod != nil && !w.removed {
			for name, ref := range w.logRefs {
				if ref.id != "" {
					out = append(out, runningContainer{pod: w.pod, name: name, id: ref.id})
				}
			}
		}
		w.mu.Unlock()
	}
	return out
}

// measure reads the usage of every running container, and the ids read.
func (a *Agent) measure() ([]runningContainer, map[string]process.Usage) {
	ctrs := a.runningContainers()
	r, ok := a.runtime.(usageReader)
	if !ok || len(ctrs) == 0 {
		return ctrs, nil
	}
	ids := make([]string, len(ctrs))
	for i, c := range ctrs {
		ids[i] = c.id
	}
	return ctrs, r.Usage(ids)
}

// sampleUsage records CPU readings every usageInterval until ctx ends.
func (a *Agent) sampleUsage(ctx context.Context) {
	tick := a.clock.NewTicker(usageInterval)
	defer tick.Stop()
	for {
		a.sampleOnce()
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

func (a *Agent) sampleOnce() {
	_, usage := a.measure()
	node, nodeErr := process.ReadNodeUsage()
	now := a.clock.Now()
	s := a.usage
	s.mu.Lock()
	defer s.mu.Unlock()
	if nodeErr == nil {
		s.node.add(cpuReading{now, node.CPU})
	}
	for id, u := range usage {
		h := s.ctrs[id]
		if h == nil {
			h = &cpuHistory{}
			s.ctrs[id] = h
		}
		h.add(cpuReading{now, u.CPU})
	}
	for id := range s.ctrs {
		if _, ok := usage[id]; !ok {
			delete(s.ctrs, id) // stopped
		}
	}
}

// ResourceUsage measures the node and its running pods now. A container the agent has no
// earlier reading of is left out (and read, so that the next request includes it); a pod is
// reported once all its running containers are.
func (a *Agent) ResourceUsage() (*Usage, error) {
	ctrs, usage := a.measure()
	node, err := process.ReadNodeUsage()
	if err != nil {
		return nil, err
	}
	now := a.clock.Now()
	ts := metav1.NewTime(now)
	out := &Usage{Node: metricsv1beta1.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, CreationTimestamp: ts}, Timestamp: ts}}

	s := a.usage
	s.mu.Lock()
	defer s.mu.Unlock()
	if cores, window, ok := s.node.rate(cpuReading{now, node.CPU}); ok {
		out.Node.Window = metav1.Duration{Duration: window}
		out.Node.Usage = usageList(cores, node.Memory)
	} else if s.node.last.at.IsZero() {
		// The first reading only: adding every asked-for reading would keep pushing the
		// sampler's older ones out, and frequent askers would never see a window.
		s.node.add(cpuReading{now, node.CPU})
	}

	byPod := map[*corev1.Pod]*metricsv1beta1.PodMetrics{}
	incomplete := map[*corev1.Pod]bool{}
	for _, c := range ctrs {
		u, ok := usage[c.id]
		if !ok {
			continue // not running
		}
		h := s.ctrs[c.id]
		if h == nil {
			h = &cpuHistory{}
			s.ctrs[c.id] = h
		}
		cores, window, ok := h.rate(cpuReading{now, u.CPU})
		if !ok {
			if h.last.at.IsZero() {
				h.add(cpuReading{now, u.CPU})
			}
			incomplete[c.pod] = true
			continue
		}
		pm := byPod[c.pod]
		if pm == nil {
			pm = &metricsv1beta1.PodMetrics{
				ObjectMeta: metav1.ObjectMeta{Name: c.pod.Name, Namespace: c.pod.Namespace, Labels: c.pod.Labels, CreationTimestamp: ts},
				Timestamp:  ts, Window: metav1.Duration{Duration: window},
			}
			byPod[c.pod] = pm
		}
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.name, Usage: usageList(cores, u.Memory)})
	}
	for pod, pm := range byPod {
		if !incomplete[pod] {
			sortContainers(pod, pm.Containers)
			out.Pods = append(out.Pods, *pm)
		}
	}
	return out, nil
}

// sortContainers orders metrics as the pod spec orders its containers.
func sortContainers(pod *corev1.Pod, cs []metricsv1beta1.ContainerMetrics) {
	pos := map[string]int{}
	for i, c := range pod.Spec.InitContainers {
		pos[c.Name] = i - len(pod.Spec.InitContainers)
	}
	for i, c := range pod.Spec.Containers {
		pos[c.Name] = i
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && pos[cs[j].Name] < pos[cs[j-1].Name]; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// usageList is metrics-server's usage: CPU in nanocores, memory in bytes.
func usageList(cores float64, memory uint64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(cores*1e9), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(memory), resource.BinarySI),
	}
}
