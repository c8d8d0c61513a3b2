package fake

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func startNode(t testing.TB, client *fake.Clientset, opts Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(client, slog.New(slog.DiscardHandler), opts).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// eventually waits until cond holds, failing the test after timeout. The fake clientset's state
// only changes by a write, so cond is checked again after every write it records.
func eventually(t testing.TB, client *fake.Clientset, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	written := make(chan struct{}, 1)
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			// Reactors run under the clientset's lock: cond's reads wait for this write.
			select {
			case written <- struct{}{}:
			default:
			}
		}
		return false, nil, nil
	})
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		select {
		case <-written:
		case <-deadline.C:
			t.Fatalf("timed out after %v: %s", timeout, why)
		}
	}
}

func boundPod(name, node string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{
			NodeName:   node,
			Containers: []v1.Container{{Name: "web", Image: "nginx"}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
}

func getPod(t testing.TB, client *fake.Clientset, name string) *v1.Pod {
	t.Helper()
	pod, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return pod
}

func TestNodeRegistersReadyAndRenewsLease(t *testing.T) {
	client := fake.NewClientset()
	startNode(t, client, Options{
		Name: "fake-1", IP: netip.MustParseAddr("127.0.0.9"), RenewInterval: 20 * time.Millisecond,
		Capacity: v1.ResourceList{v1.ResourcePods: *resourceQty("50")},
	})
	ctx := context.Background()

	var node *v1.Node
	eventually(t, client, 5*time.Second, func() (bool, string) {
		var err error
		node, err = client.CoreV1().Nodes().Get(ctx, "fake-1", metav1.GetOptions{})
		return err == nil && len(node.Status.Conditions) == 4, fmt.Sprintf("node: %v", err)
	})
	ready := node.Status.Conditions[3]
	if ready.Type != v1.NodeReady || ready.Status != v1.ConditionTrue || ready.Reason != "KubeletReady" {
		t.Errorf("ready condition %+v", ready)
	}
	if a := node.Status.Addresses; len(a) != 2 || a[0].Address != "127.0.0.9" || a[1].Address != "fake-1" {
		t.Errorf("addresses %+v", a)
	}
	if got := node.Status.Allocatable.Pods().String(); got != "50" {
		t.Errorf("allocatable pods %s, want 50", got)
	}
	if got := node.Status.Allocatable.Cpu().String(); got != "32" {
		t.Errorf("allocatable cpu %s, want default 32", got)
	}
	if node.Status.NodeInfo.ContainerRuntimeVersion != "fake://skiff" || node.Status.NodeInfo.KubeletVersion == "" {
		t.Errorf("nodeInfo %+v", node.Status.NodeInfo)
	}

	var first time.Time
	eventually(t, client, 5*time.Second, func() (bool, string) {
		lease, err := client.CoordinationV1().Leases(LeaseNamespace).Get(ctx, "fake-1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if *lease.Spec.HolderIdentity != "fake-1" || *lease.Spec.LeaseDurationSeconds != 40 ||
			len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Kind != "Node" {
			t.Fatalf("lease %+v", lease)
		}
		renewed := lease.Spec.RenewTime.Time
		if first.IsZero() {
			first = renewed
		}
		return renewed.After(first), "lease not renewed"
	})
	if _, err := client.CoreV1().Namespaces().Get(ctx, LeaseNamespace, metav1.GetOptions{}); err != nil {
		t.Errorf("lease namespace: %v", err)
	}
}

func TestNodeRunsBoundPods(t *testing.T) {
	client := fake.NewClientset(boundPod("other-node", "fake-2"))
	startNode(t, client, Options{Name: "fake-1", PodCIDR: netip.MustParsePrefix("127.5.0.0/16")})
	ctx := context.Background()
	if _, err := client.CoreV1().Pods("default").Create(ctx, boundPod("web", "fake-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	eventually(t, client, 5*time.Second, func() (bool, string) {
		pod := getPod(t, client, "web")
		return isRunning(pod), fmt.Sprintf("status %+v", pod.Status)
	})
	pod := getPod(t, client, "web")
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err != nil || !netip.MustParsePrefix("127.5.0.0/16").Contains(ip) {
		t.Errorf("pod IP %q not from 127.5.0.0/16", pod.Status.PodIP)
	}
	if pod.Status.HostIP != "127.0.0.2" {
		t.Errorf("host IP %q, want the default 127.0.0.2", pod.Status.HostIP)
	}
	if p := getPod(t, client, "other-node"); p.Status.Phase != v1.PodPending {
		t.Errorf("a pod bound to another node was touched: %s", p.Status.Phase)
	}
}

func TestNodeWaitsReadyDelay(t *testing.T) {
	client := fake.NewClientset()
	const delay = 300 * time.Millisecond
	startNode(t, client, Options{Name: "fake-1", ReadyDelay: delay})
	created := time.Now()
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), boundPod("slow", "fake-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, client, 5*time.Second, func() (bool, string) {
		return isRunning(getPod(t, client, "slow")), "not running"
	})
	if elapsed := time.Since(created); elapsed < delay {
		t.Errorf("pod ran after %v, before the ReadyDelay of %v", elapsed, delay)
	}
}

func TestNodeDeletesTerminatingPods(t *testing.T) {
	pod := boundPod("doomed", "fake-1")
	client := fake.NewClientset(pod)
	startNode(t, client, Options{Name: "fake-1"})
	ctx := context.Background()
	eventually(t, client, 5*time.Second, func() (bool, string) { return isRunning(getPod(t, client, "doomed")), "not running" })

	// The API server marks a graceful delete with deletionTimestamp.
	p := getPod(t, client, "doomed")
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, client, 5*time.Second, func() (bool, string) {
		_, err := client.CoreV1().Pods("default").Get(ctx, "doomed", metav1.GetOptions{})
		return err != nil, "pod still there"
	})
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetResource().Resource == "pods" {
			opts := d.GetDeleteOptions()
			if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 ||
				opts.Preconditions == nil || *opts.Preconditions.UID != pod.UID {
				t.Errorf("delete options %+v", opts)
			}
			return
		}
	}
	t.Error("no pod delete action recorded")
}

// BenchmarkThousandPodsReady measures how long 1,000 pods bound to one fake
// node take to become Running. It counts status writes rather than listing
// pods, so the check after each write does not compete for the fake
// clientset's lock; most of the time measured is still the fake's own
// per-write cost.
func BenchmarkThousandPodsReady(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		objs := make([]runtime.Object, 0, 1000)
		for i := range 1000 {
			objs = append(objs, boundPod(fmt.Sprintf("p%d", i), "fake-1"))
		}
		client := fake.NewClientset(objs...)
		var written atomic.Int64
		client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "status" {
				written.Add(1)
			}
			return false, nil, nil
		})
		b.StartTimer()
		startNode(b, client, Options{Name: "fake-1"})
		eventually(b, client, 60*time.Second, func() (bool, string) {
			return written.Load() >= 1000, fmt.Sprintf("%d of 1000 running", written.Load())
		})
	}
}

func resourceQty(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
