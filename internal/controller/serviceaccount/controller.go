package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"
	"maps"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/controller"
)

const (
	// DefaultName is the ServiceAccount every namespace gets.
	DefaultName = "default"
	// RootCAName is the ConfigMap holding the cluster CA, under RootCAKey.
	RootCAName = "kube-root-ca.crt"
	RootCAKey  = "ca.crt"

	descriptionAnnotation = "kubernetes.io/description"
	description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Options tunes the controller; there is nothing to tune yet.
type Options struct{}

// Controller keeps the default ServiceAccount and the root CA ConfigMap in
// every active namespace.
type Controller struct {
	client     kubernetes.Interface
	caPEM      string
	log        *slog.Logger
	loop       *controller.Loop[string] // namespace names
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
}

// New returns a controller publishing caPEM; start factory after New, then Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, caPEM []byte, log *slog.Logger, _ Options) *Controller {
	core := factory.Core().V1()
	c := &Controller{
		client:     client,
		caPEM:      string(caPEM),
		log:        log.With("component", "serviceaccount-controller"),
		namespaces: core.Namespaces().Lister(),
		accounts:   core.ServiceAccounts().Lister(),
		configMaps: core.ConfigMaps().Lister(),
	}
	// The policy of upstream's serviceaccounts controller and root CA publisher, which this one
	// does the work of: the default controller rate limiter, retried for as long as it fails.
	c.loop = controller.New(controller.Config[string]{Name: "serviceaccount", Log: c.log, Sync: c.sync})
	core.Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.loop.Add(obj.(*v1.Namespace).Name) },
		UpdateFunc: func(_, obj any) { c.loop.Add(obj.(*v1.Namespace).Name) },
	})
	// Deleting (or, for the ConfigMap, editing) what we publish brings it back.
	namespaceOf := func(name string) func(obj any) {
		return func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if m, ok := obj.(metav1.Object); ok && m.GetName() == name {
				c.loop.Add(m.GetNamespace())
			}
		}
	}
	core.ServiceAccounts().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: namespaceOf(DefaultName),
	})
	core.ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { namespaceOf(RootCAName)(obj) },
		DeleteFunc: namespaceOf(RootCAName),
	})
	c.synced = []cache.InformerSynced{
		core.Namespaces().Informer().HasSynced, core.ServiceAccounts().Informer().HasSynced,
		core.ConfigMaps().Informer().HasSynced,
	}
	return c
}

// Run syncs namespaces with workers workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return c.loop.Run(ctx, workers, c.synced...)
}

// sync makes sure namespace ns, if active, has both objects.
func (c *Controller) sync(ctx context.Context, ns string) error {
	namespace, err := c.namespaces.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if namespace.DeletionTimestamp != nil || namespace.Status.Phase == v1.NamespaceTerminating {
		return nil
	}
	if err := c.ensureServiceAccount(ctx, ns); err != nil {
		return err
	}
	return c.ensureRootCA(ctx, ns)
}

func (c *Controller) ensureServiceAccount(ctx context.Context, ns string) error {
	if _, err := c.accounts.ServiceAccounts(ns).Get(DefaultName); !apierrors.IsNotFound(err) {
		return err
	}
	_, err := c.client.CoreV1().ServiceAccounts(ns).Create(ctx, &v1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: ns},
	}, metav1.CreateOptions{})
	if ignorable(err) {
		return nil
	}
	return fmt.Errorf("create serviceaccount %s/%s: %w", ns, DefaultName, err)
}

func (c *Controller) ensureRootCA(ctx context.Context, ns string) error {
	cm, err := c.configMaps.ConfigMaps(ns).Get(RootCAName)
	if apierrors.IsNotFound(err) {
		_, err = c.client.CoreV1().ConfigMaps(ns).Create(ctx, &v1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name: RootCAName, Namespace: ns,
				Annotations: map[string]string{descriptionAnnotation: description},
			},
			Data: map[string]string{RootCAKey: c.caPEM},
		}, metav1.CreateOptions{})
		if ignorable(err) {
			return nil
		}
		return fmt.Errorf("create configmap %s/%s: %w", ns, RootCAName, err)
	}
	if err != nil {
		return err
	}
	want := map[string]string{RootCAKey: c.caPEM}
	if maps.Equal(cm.Data, want) && len(cm.BinaryData) == 0 && cm.Annotations[descriptionAnnotation] == description {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data, cm.BinaryData = want, nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[descriptionAnnotation] = description
	if _, err := c.client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update configmap %s/%s: %w", ns, RootCAName, err)
	}
	return nil
}

// ignorable errors of a create: it exists already, or its namespace is
// being deleted.
func ignorable(err error) bool {
	return err == nil || apierrors.IsAlreadyExists(err) ||
		apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause)
}
