package controllerref

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Claimer claims objects of one type (pods, ReplicaSets) for one owner.
type Claimer[T metav1.Object] struct {
	// Owner is the controller object doing the claiming.
	Owner metav1.Object
	// Kind is the owner's kind, written into adopted objects' references.
	Kind schema.GroupVersionKind
	// Selector says which objects the owner wants.
	Selector labels.Selector
	// Patch applies a strategic merge patch to obj.
	Patch func(ctx context.Context, obj T, patch []byte) error
	// CanAdopt, if set, is called once before the first adoption; an error
	// stops all adoptions (typically: the owner is being deleted).
	CanAdopt func(ctx context.Context) error

	once        sync.Once
	canAdoptErr error
}

// Claim returns the objects the owner controls after adopting and releasing
// as needed. Objects owned by another controller are ignored. Failures to
// adopt or release are aggregated; the objects claimed so far are returned
// with them.
func (c *Claimer[T]) Claim(ctx context.Context, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		ok, err := c.claim(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, obj)
		}
	}
	return claimed, utilerrors.NewAggregate(errs)
}

func (c *Claimer[T]) claim(ctx context.Context, obj T) (bool, error) {
	matches := c.Selector.Matches(labels.Set(obj.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.UID != c.Owner.GetUID() {
			return false, nil // someone else's
		}
		if matches {
			// Already ours; claiming takes no action, so it is allowed even
			// while the owner is being deleted.
			return true, nil
		}
		if c.Owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		if err := c.release(ctx, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return false, nil
	}

	// An orphan.
	if c.Owner.GetDeletionTimestamp() != nil || !matches || obj.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if ns := c.Owner.GetNamespace(); ns != "" && ns != obj.GetNamespace() {
		return false, nil
	}
	if err := c.adopt(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (c *Claimer[T]) adopt(ctx context.Context, obj T) error {
	if c.CanAdopt != nil {
		c.once.Do(func() { c.canAdoptErr = c.CanAdopt(ctx) })
		if c.canAdoptErr != nil {
			return fmt.Errorf("can't adopt %s/%s (%s): %w", obj.GetNamespace(), obj.GetName(), obj.GetUID(), c.canAdoptErr)
		}
	}
	patch, err := AdoptPatch(c.Owner, c.Kind, obj.GetUID())
	if err != nil {
		return err
	}
	return c.Patch(ctx, obj, patch)
}

func (c *Claimer[T]) release(ctx context.Context, obj T) error {
	patch, err := ReleasePatch(obj.GetUID(), c.Owner.GetUID())
	if err != nil {
		return err
	}
	err = c.Patch(ctx, obj, patch)
	// Invalid means the object has no owner references left or was deleted
	// and recreated under a new UID: either way it is no longer ours.
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}

// RecheckDeletion returns a CanAdopt function that reads the owner afresh
// (uncached) and refuses adoption if it has been deleted in the meantime, so
// that an owner going away does not adopt objects on its way out.
func RecheckDeletion(get func(ctx context.Context) (metav1.Object, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		obj, err := get(ctx)
		if err != nil {
			return fmt.Errorf("can't recheck DeletionTimestamp: %w", err)
		}
		if ts := obj.GetDeletionTimestamp(); ts != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", obj.GetNamespace(), obj.GetName(), ts)
		}
		return nil
	}
}
