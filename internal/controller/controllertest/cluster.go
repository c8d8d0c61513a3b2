package controllertest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/apiserver/apiservertest"
	"github.com/skiff-dev/skiff/internal/registry"
)

// Epoch is the fake clock's starting time.
var Epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Cluster is skiff's API server over a store in a temporary directory, with clients and
// informers over it, and a fake clock for the controllers under test. The server's own
// timestamps (creationTimestamp, deletionTimestamp) are wall-clock time, as in a real cluster;
// the clock is the controllers' time only.
type Cluster struct {
	// Client and Metadata reach the server in-process; every request they send is kept for
	// Requests.
	Client   kubernetes.Interface
	Metadata metadata.Interface
	Clock    *Clock
	Factory  informers.SharedInformerFactory

	ctx     context.Context // lives as long as the test
	direct  *rest.Config    // in-process, not logged
	admin   *dynamic.DynamicClient
	typed   kubernetes.Interface // the test's own client, whose requests are not kept
	kinds   map[schema.GroupVersionKind]*registry.Resource
	uids    map[string]string // UIDs objects were given before they were created → the server's
	log     *requestLog
	changes *Changes // informer events, requests sent, timers made and clock steps
}

// NewCluster starts an API server and stores objects through it, as Create does, in order:
// namespaces before their content, owners before their dependents. Objects marked for
// deletion are deleted once all are created, last first. Informers for pods, ReplicaSets,
// ReplicationControllers and Deployments are registered so that waits wake up on their
// events; call Start after building controllers. The server stops when the test ends.
func NewCluster(t testing.TB, objects ...runtime.Object) *Cluster {
	t.Helper()
	srv, ctx := apiservertest.Start(t, nil)

	c := &Cluster{ctx: ctx, changes: NewChanges(), kinds: map[schema.GroupVersionKind]*registry.Resource{}, uids: map[string]string{}}
	c.Clock = newClock(Epoch, c.changes.Notify)
	c.log = &requestLog{notify: c.changes.Notify}
	for _, r := range srv.Resources() {
		c.kinds[r.GVR.GroupVersion().WithKind(r.Kind)] = r
	}
	c.direct = srv.LoopbackConfig()
	logged := rest.CopyConfig(c.direct)
	var err error
	logged.WrapTransport = c.log.wrap
	if c.Client, err = kubernetes.NewForConfig(logged); err != nil {
		t.Fatal(err)
	}
	if c.Metadata, err = metadata.NewForConfig(logged); err != nil {
		t.Fatal(err)
	}
	if c.typed, err = kubernetes.NewForConfig(c.direct); err != nil {
		t.Fatal(err)
	}
	if c.admin, err = dynamic.NewForConfig(c.direct); err != nil {
		t.Fatal(err)
	}
	c.seed(t, objects)

	c.Factory = informers.NewSharedInformerFactory(c.Client, 0)
	if err := c.changes.watch(
		c.Factory.Core().V1().Pods().Informer(),
		c.Factory.Core().V1().ReplicationControllers().Informer(),
		c.Factory.Apps().V1().ReplicaSets().Informer(),
		c.Factory.Apps().V1().Deployments().Informer(),
	); err != nil {
		t.Fatal(err)
	}
	return c
}

// Watch makes the events of more informers wake Eventually.
func (c *Cluster) Watch(t testing.TB, informers ...cache.SharedInformer) {
	t.Helper()
	c.changes.Watch(t, informers...)
}

// Start starts the informers and waits for their caches. They stop when ctx is done or the
// test ends, whichever is first.
func (c *Cluster) Start(t testing.TB, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() {
		cancel()
		c.Factory.Shutdown()
	})
	c.Factory.Start(ctx.Done())
	for typ, ok := range c.Factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
}

// Eventually waits until cond holds, re-checking after every informer event, request sent,
// timer creation and clock step. On timeout it fails the test with what and the last
// explanation cond gave.
func (c *Cluster) Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	c.changes.Eventually(t, what, cond)
}

// Step advances the fake clock and wakes waiters.
func (c *Cluster) Step(d time.Duration) {
	c.Clock.Step(d)
	c.changes.Notify()
}

// Requests returns the requests Client and Metadata have sent so far, oldest first.
func (c *Cluster) Requests() []Request { return c.log.requests() }

// Config returns a config for clients of the test's own: their requests are not among
// Requests and do not wake Eventually, so a condition may read through them.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.direct) }
