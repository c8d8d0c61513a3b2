package resourcequota

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

// run runs a controller over an API server holding objs; the waits wake on the quotas'
// events. The client returned is the test's own: its requests are not recorded.
func run(t *testing.T, objs ...runtime.Object) (kubernetes.Interface, *controllertest.Cluster) {
	t.Helper()
	cl := controllertest.NewCluster(t, objs...)
	client, err := kubernetes.NewForConfig(cl.Config())
	if err != nil {
		t.Fatal(err)
	}
	c := New(cl.Client, cl.Factory, slog.New(slog.DiscardHandler), Options{})
	cl.Watch(t, cl.Factory.Core().V1().ResourceQuotas().Informer())
	ctx, cancel := context.WithCancel(context.Background())
	cl.Start(t, ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return client, cl
}

// statusIs reports whether the quota's status equals hard and used.
func statusIs(client kubernetes.Interface, name string, hard, used v1.ResourceList) func() (bool, string) {
	return func() (bool, string) {
		q, err := client.CoreV1().ResourceQuotas("ns").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return equality.Semantic.DeepEqual(q.Status.Hard, hard) && equality.Semantic.DeepEqual(q.Status.Used, used),
			fmt.Sprintf("quota %s status = %+v, want hard %v used %v", name, q.Status, hard, used)
	}
}

func TestControllerKeepsStatusCurrent(t *testing.T) {
	hard := list("pods", "3", "requests.cpu", "1", "configmaps", "5")
	q := newQuota("compute", hard, func(q *v1.ResourceQuota) { q.Status = v1.ResourceQuotaStatus{} })
	client, cl := run(t, q, pod("a", requests("cpu", "200m")), &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c1"}},
		pod("elsewhere", func(p *v1.Pod) { p.Namespace = "other" }))
	ctx := context.Background()
	cl.Eventually(t, "the first count", statusIs(client, "compute", hard, list("pods", "1", "requests.cpu", "200m", "configmaps", "1")))

	if _, err := client.CoreV1().Pods("ns").Create(ctx, pod("b", requests("cpu", "300m")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.Eventually(t, "the new pod counted", statusIs(client, "compute", hard, list("pods", "2", "requests.cpu", "500m", "configmaps", "1")))

	// A pod that finished frees its share.
	done := pod("a", requests("cpu", "200m"), phase(v1.PodSucceeded))
	if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.Eventually(t, "the finished pod freed", statusIs(client, "compute", hard, list("pods", "1", "requests.cpu", "300m", "configmaps", "1")))

	if err := client.CoreV1().ConfigMaps("ns").Delete(ctx, "c1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.Eventually(t, "the deleted configmap freed", statusIs(client, "compute", hard, list("pods", "1", "requests.cpu", "300m", "configmaps", "0")))

	// Raising the limit shows in status.hard.
	cur, err := client.CoreV1().ResourceQuotas("ns").Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Hard = list("pods", "10", "requests.cpu", "1", "configmaps", "5")
	if _, err := client.CoreV1().ResourceQuotas("ns").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.Eventually(t, "the raised limit", statusIs(client, "compute", cur.Spec.Hard, list("pods", "1", "requests.cpu", "300m", "configmaps", "0")))
}

// TestSyncWritesOnlyChanges counts the controller's status writes, so it runs over the fake
// clientset: the API server's quota admission charges a new Secret to status.used itself, so
// that against the server the sync after it usually finds the status current and writes
// nothing, and the count would depend on whether the cache has seen the charge yet.
func TestSyncWritesOnlyChanges(t *testing.T) {
	client := fake.NewClientset(newQuota("s", list("secrets", "4"), func(q *v1.ResourceQuota) { q.Status = v1.ResourceQuotaStatus{} }))
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, slog.New(slog.DiscardHandler), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	changes := controllertest.NewChanges()
	changes.Watch(t, factory.Core().V1().ResourceQuotas().Informer(), factory.Core().V1().Secrets().Informer())
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	defer func() {
		cancel()
		factory.Shutdown()
	}()

	writes := func() int {
		n := 0
		for _, a := range client.Actions() {
			if a.GetVerb() == "update" && a.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	// syncWhenCached runs sync once the lister shows what cond waits for.
	syncWhenCached := func(cond func() bool) {
		t.Helper()
		changes.Eventually(t, "the cache to catch up", func() (bool, string) { return cond(), "not cached yet" })
		if err := c.sync(ctx, "ns/s"); err != nil {
			t.Fatal(err)
		}
	}
	cachedUsed := func(want string) func() bool {
		return func() bool {
			q, err := c.quotas.ResourceQuotas("ns").Get("s")
			used := q.Status.Used[v1.ResourceSecrets]
			return err == nil && len(q.Status.Used) == 1 && used.String() == want
		}
	}

	syncWhenCached(func() bool { return true })
	if writes() != 1 {
		t.Fatalf("first sync wrote %d times, want 1", writes())
	}
	syncWhenCached(cachedUsed("0"))
	if writes() != 1 {
		t.Errorf("a sync with nothing changed wrote status (%d writes)", writes())
	}
	if _, err := client.CoreV1().Secrets("ns").Create(ctx, &v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	syncWhenCached(func() bool { l, _ := c.secrets.Secrets("ns").List(labels.Everything()); return len(l) == 1 })
	if writes() != 2 {
		t.Errorf("writes = %d after a new secret, want 2", writes())
	}
	syncWhenCached(cachedUsed("1"))
	if writes() != 2 {
		t.Errorf("a sync with nothing changed wrote status (%d writes)", writes())
	}
}
