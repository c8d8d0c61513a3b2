package fake

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

func (n *Node) processNext(ctx context.Context) bool {
	k, quit := n.queue.Get()
	if quit {
		return false
	}
	defer n.queue.Done(k)
	if err := n.syncPod(ctx, k); err != nil {
		n.log.Warn("syncing pod failed", "pod", k, "err", err)
		n.queue.AddRateLimited(k)
		return true
	}
	n.queue.Forget(k)
	return true
}

// syncPod moves the pod named k toward what a healthy kubelet would show:
// gone if it is being deleted, otherwise Running and Ready once ReadyDelay
// has passed since the node first saw it.
func (n *Node) syncPod(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	pod, err := n.pods.Pods(ns).Get(name)
	if err == nil && pod.Spec.NodeName != n.opts.Name {
		err = apierrors.NewNotFound(v1.Resource("pods"), name) // moved away; not ours
	}
	if apierrors.IsNotFound(err) {
		n.forget(k)
		return nil
	}
	if err != nil {
		return err
	}
	rec := n.remember(k, pod)

	if pod.DeletionTimestamp != nil {
		zero := int64(0)
		err := n.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod %s: %w", k, err)
		}
		return nil
	}
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed || isRunning(pod) {
		return nil
	}
	if wait := n.opts.ReadyDelay - time.Since(rec.seen); wait > 0 {
		n.queue.AddAfter(k, wait)
		return nil
	}

	ip, err := n.podIP(pod)
	if err != nil {
		return fmt.Errorf("pod %s: %w", k, err)
	}
	pod = pod.DeepCopy()
	pod.Status = runningStatus(pod, ip.String(), n.opts.IP.String(), metav1.Now())
	if _, err := n.client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status of pod %s: %w", k, err)
	}
	return nil
}

// remember records when the node first saw the pod named k; a new pod under
// an old name starts afresh.
func (n *Node) remember(k string, pod *v1.Pod) podRecord {
	n.mu.Lock()
	defer n.mu.Unlock()
	rec, ok := n.seen[k]
	if ok && rec.uid == pod.UID {
		return rec
	}
	if ok {
		n.ips.release(rec.uid)
	}
	rec = podRecord{uid: pod.UID, seen: time.Now()}
	n.seen[k] = rec
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
		n.ips.reserve(pod.UID, ip) // running from before a restart: keep its IP
	}
	return rec
}

func (n *Node) forget(k string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rec, ok := n.seen[k]; ok {
		n.ips.release(rec.uid)
		delete(n.seen, k)
	}
}

func (n *Node) podIP(pod *v1.Pod) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ips.allocate(pod.UID)
}

// ipPool hands out addresses of one prefix, one per pod UID. It skips the
// prefix's first address. Not safe for concurrent use.
type ipPool struct {
	prefix netip.Prefix
	next   netip.Addr
	byUID  map[types.UID]netip.Addr
	used   map[netip.Addr]types.UID
}

func newIPPool(prefix netip.Prefix) *ipPool {
	return &ipPool{
		prefix: prefix,
		next:   prefix.Addr().Next(),
		byUID:  map[types.UID]netip.Addr{},
		used:   map[netip.Addr]types.UID{},
	}
}

// allocate returns uid's address, choosing a free one the first time.
func (p *ipPool) allocate(uid types.UID) (netip.Addr, error) {
	if ip, ok := p.byUID[uid]; ok {
		return ip, nil
	}
	start := p.next
	for ip := start; ; {
		if _, taken := p.used[ip]; !taken {
			p.byUID[uid], p.used[ip] = ip, uid
			p.next = p.advance(ip)
			return ip, nil
		}
		if ip = p.advance(ip); ip == start {
			return netip.Addr{}, fmt.Errorf("pod range %s exhausted", p.prefix)
		}
	}
}

func (p *ipPool) advance(ip netip.Addr) netip.Addr {
	ip = ip.Next()
	if !ip.IsValid() || !p.prefix.Contains(ip) {
		ip = p.prefix.Addr().Next()
	}
	return ip
}

// reserve records that uid already holds ip, if ip is in range and free.
func (p *ipPool) reserve(uid types.UID, ip netip.Addr) {
	if _, taken := p.used[ip]; taken || !p.prefix.Contains(ip) {
		return
	}
	if _, has := p.byUID[uid]; has {
		return
	}
	p.byUID[uid], p.used[ip] = ip, uid
}

func (p *ipPool) release(uid types.UID) {
	if ip, ok := p.byUID[uid]; ok {
		delete(p.byUID, uid)
		delete(p.used, ip)
	}
}
