package registry

import (
	"context"
	"net"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Kind is everything skiff knows about one served kind, typed by its Go type T: its names and
// verbs, its strategy (defaulting, validation and update rules), its table, its field-selector
// fields, its scale accessors, the other versions it is served at, how it is deleted, what
// admission does with it and the subresources that act on it. It is the counterpart of one
// upstream pkg/registry/<group>/<kind> directory (strategy.go, storage.go and its printers).
//
// Each kind is defined in one file of this package, as one value; All lists them. The API server
// sees a Kind through its type-erased Resource, so that it needs no knowledge of any one kind.
type Kind[T object] struct {
	GVR          schema.GroupVersionResource
	Kind         string // "Deployment"; the list kind is Kind+"List", the singular name its lower case
	Namespaced   bool
	ShortNames   []string
	Categories   []string
	Verbs        []string
	Subresources []string

	New     func() T
	NewList func() runtime.Object

	Strategy Strategy[T]
	// Table is how kubectl get prints the kind, and its field-selector fields; the zero value is
	// upstream's default table (name and creation time).
	Table printer
	Scale *Scale[T]
	// Versions are the other group-versions the kind is also served at.
	Versions []AltVersion
	Delete   DeleteStrategy[T]
	Admit    Admission[T]
	// Actions are the subresources that change the stored object from a request body.
	Actions map[string]Action
	// Proxy returns the host:port that the proxy subresource of obj forwards to.
	Proxy func(obj T, port string, get Getter) (string, error)
	// Review, for kinds that answer a question instead of being stored (access and identity
	// reviews), fills the created object's status for the requesting user; nothing is stored.
	Review func(obj T, user UserInfo) error
	// Live, for kinds computed when they are read instead of stored (metrics.k8s.io's resource
	// usage), returns the objects named name in namespace ("" names every one; a namespaced
	// kind's "" namespace is all of them) from src. A get of an object that is not there
	// returns the kind's NotFound error.
	Live func(ctx context.Context, src LiveSource, namespace, name string) ([]T, error)
}

// LiveSource is what live kinds compute their objects from.
type LiveSource struct {
	// List returns the server's objects of gr in namespace ("" = all).
	List func(gr schema.GroupResource, namespace string) []runtime.Object
	// NodeUsage reads a node's and its pods' resource usage from the node's agent; nil when
	// the server has no way to reach agents.
	NodeUsage func(ctx context.Context, node *corev1.Node) (*metricsv1beta1.NodeMetrics, []metricsv1beta1.PodMetrics, error)
}

// UserInfo is who a request was authenticated as.
type UserInfo struct {
	Name   string
	Groups []string
}

// Strategy is a kind's part of the write pipeline, as upstream's RESTCreateStrategy and
// RESTUpdateStrategy: nil functions do nothing. The API server sets the system metadata (uid,
// creationTimestamp, resourceVersion, generation carried over from the stored object) before
// these run; a kind's update preparation bumps generation when its spec changed.
type Strategy[T object] struct {
	Default        func(T)
	PrepareCreate  func(T)
	PrepareUpdate  func(obj, old T)
	PrepareStatus  func(obj, old T)
	Validate       func(T) field.ErrorList
	ValidateUpdate func(obj, old T) field.ErrorList
	ValidateStatus func(obj, old T) field.ErrorList
	// RequireResourceVersion refuses a replace without a resourceVersion (upstream strategies
	// whose AllowUnconditionalUpdate is false).
	RequireResourceVersion bool
	// ResetFields are the fields a write of the main resource cannot set, whose ownership its
	// managed fields therefore do not record (upstream's GetResetFields): status, for kinds with
	// a status subresource. StatusResetFields are those a write of the status subresource
	// cannot set: spec, and what else PrepareStatus keeps from the stored object.
	ResetFields, StatusResetFields []fieldpath.Path
}

// Scale reads and writes the autoscaling/v1 Scale view of a kind (the scale subresource).
type Scale[T object] struct {
	Get         func(T) *autoscalingv1.Scale
	SetReplicas func(T, int32)
}

// DeleteStrategy is how a kind is deleted beyond the generic rules (preconditions, finalizers,
// propagation), as upstream's RESTGracefulDeleteStrategy and namespace storage.
type DeleteStrategy[T object] struct {
	// Graceful returns the grace period a delete of obj waits for, and false when obj may go at
	// once (upstream's CheckGracefulDelete): pods on a node wait for the node to stop them.
	Graceful func(obj T, opts *metav1.DeleteOptions) (int64, bool)
	// Mark changes obj when it is marked for deletion: a namespace becomes Terminating.
	Mark func(obj T)
	// Holds reports whether obj stays after its finalizers are gone: a namespace keeps its
	// content until its spec.finalizers are emptied.
	Holds func(obj T) bool
	// Preconditions, for a kind whose storage checks a delete's preconditions itself
	// (namespaces), replaces the generic check and its messages.
	Preconditions func(obj T, p *metav1.Preconditions) error
	// ReturnDeleted answers a delete that removed the object with the object, as upstream's
	// stores with ReturnDeletedObject do, rather than with a Success Status naming it.
	ReturnDeleted bool
}

// Admission is what the API server's admission chain does with a kind.
type Admission[T object] struct {
	// NoQuota exempts creates of the kind from ResourceQuota admission.
	NoQuota bool
	// Allocate assigns or checks the cluster-unique values obj holds (a Service's ClusterIP and
	// NodePorts), given what every other object of the kind holds; old is nil on create.
	Allocate func(obj, old T, taken Claims, pools Pools) error
	// Claims returns the cluster-unique values obj holds.
	Claims func(obj T) Claims
	// Terminating is set on the kind whose objects are the namespaces of namespaced kinds: it
	// reports whether a namespace takes no new content (namespace lifecycle admission).
	Terminating func(ns T) bool
	// Delete refuses a delete of obj before anything is changed (namespace lifecycle keeps the
	// system namespaces).
	Delete func(obj T) error
	// Charge is set on the kind whose objects limit what a namespace may hold (ResourceQuota):
	// it refuses obj when it would exceed quota, and otherwise adds obj's usage to quota's status,
	// reporting whether that changed it (quota admission).
	Charge func(quota T, obj runtime.Object) (changed bool, err error)
}

// Claims are values that must be unique among the objects of a kind.
type Claims struct {
	IPs   map[string]bool
	Ports map[int32]bool
}

// Add adds c's values to the union u.
func (u *Claims) Add(c Claims) {
	if u.IPs == nil {
		u.IPs, u.Ports = map[string]bool{}, map[int32]bool{}
	}
	for ip := range c.IPs {
		u.IPs[ip] = true
	}
	for p := range c.Ports {
		u.Ports[p] = true
	}
}

// Pools are the ranges the API server was configured to allocate from.
type Pools struct {
	ServiceCIDR              *net.IPNet
	NodePortMin, NodePortMax int
}

// Action is a subresource that changes the stored object from a request body: pods/binding,
// namespaces/finalize.
type Action struct {
	// Verb is the one verb the subresource serves ("create" for a POST, "update" for a PUT).
	Verb string
	// New returns an empty request body to decode into.
	New func() runtime.Object
	// Apply changes obj, a copy of the stored object, as req asks.
	Apply func(obj, req runtime.Object) error
	// ReplyStatus answers 201 with a Success Status (binding); otherwise 200 with the object.
	ReplyStatus bool
}

// Getter reads another stored object, for kinds whose subresources follow references (a
// Service's proxy reads its Endpoints).
type Getter func(gr schema.GroupResource, namespace, name string) (runtime.Object, bool)

// Resource returns the kind's type-erased form, which the API server serves.
func (k Kind[T]) Resource() *Resource {
	r := &Resource{
		GVR: k.GVR, Kind: k.Kind, ListKind: k.Kind + "List", SingularName: lower(k.Kind),
		Namespaced: k.Namespaced, ShortNames: k.ShortNames, Categories: k.Categories,
		Verbs: k.Verbs, Subresources: k.Subresources,
		New:      func() runtime.Object { return k.New() },
		NewList:  k.NewList,
		Versions: k.Versions, Actions: k.Actions,
		NoQuota: k.Admit.NoQuota,
	}
	k.Strategy.attach(r)
	table := k.Table
	if table.row == nil {
		table = defaultPrinter()
	}
	row := table.row
	r.Columns = table.columns
	r.Row = func(obj runtime.Object) []interface{} { return row(obj, time.Now()) }
	r.Fields = table.fields
	if sc := k.Scale; sc != nil {
		r.GetScale = func(obj runtime.Object) *autoscalingv1.Scale { return sc.Get(obj.(T)) }
		r.SetReplicas = func(obj runtime.Object, n int32) { sc.SetReplicas(obj.(T), n) }
	}
	k.Delete.attach(r)
	k.Admit.attach(r)
	if rv := k.Review; rv != nil {
		r.Review = func(obj runtime.Object, user UserInfo) error { return rv(obj.(T), user) }
	}
	if live := k.Live; live != nil {
		r.Live = func(ctx context.Context, src LiveSource, namespace, name string) ([]runtime.Object, error) {
			objs, err := live(ctx, src, namespace, name)
			out := make([]runtime.Object, len(objs))
			for i, o := range objs {
				out[i] = o
			}
			return out, err
		}
	}
	if p := k.Proxy; p != nil {
		r.ProxyTarget = func(obj runtime.Object, port string, get Getter) (string, error) {
			return p(obj.(T), port, get)
		}
	}
	return r
}

func (d DeleteStrategy[T]) attach(r *Resource) {
	if g := d.Graceful; g != nil {
		r.GracePeriod = func(obj runtime.Object, opts *metav1.DeleteOptions) (int64, bool) {
			if o, ok := obj.(T); ok {
				return g(o, opts)
			}
			return 0, false
		}
	}
	if m := d.Mark; m != nil {
		r.MarkDeleting = func(obj runtime.Object) {
			if o, ok := obj.(T); ok {
				m(o)
			}
		}
	}
	r.ReturnDeleted = d.ReturnDeleted
	if p := d.Preconditions; p != nil {
		r.CheckPreconditions = func(obj runtime.Object, pre *metav1.Preconditions) error { return p(obj.(T), pre) }
	}
	if h := d.Holds; h != nil {
		r.HoldsDeletion = func(obj runtime.Object) bool {
			o, ok := obj.(T)
			return ok && h(o)
		}
	}
}

func (a Admission[T]) attach(r *Resource) {
	if alloc, claims := a.Allocate, a.Claims; alloc != nil && claims != nil {
		r.Allocate = func(obj, old runtime.Object, taken Claims, pools Pools) error {
			var o T
			if old != nil {
				o = old.(T)
			}
			return alloc(obj.(T), o, taken, pools)
		}
		r.Claims = func(obj runtime.Object) Claims { return claims(obj.(T)) }
	}
	if d := a.Delete; d != nil {
		r.AdmitDelete = func(obj runtime.Object) error { return d(obj.(T)) }
	}
	if c := a.Charge; c != nil {
		r.Charge = func(quota, obj runtime.Object) (bool, error) { return c(quota.(T), obj) }
	}
	if t := a.Terminating; t != nil {
		r.Terminating = func(obj runtime.Object) bool {
			o, ok := obj.(T)
			return ok && t(o)
		}
	}
}
