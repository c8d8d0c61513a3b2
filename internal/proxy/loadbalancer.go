package proxy

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// A LoadBalancer Service is served like a NodePort one, and the node IP of one node stands for
// its load balancer: the Ready node whose name sorts first writes
// status.loadBalancer.ingress = [{ip: <its node IP>}], and its proxy then also listens on
// nodeIP:port. Other nodes leave the status alone.

// syncLoadBalancer writes svc's load-balancer ingress if this node is the one that does.
func (p *Proxy) syncLoadBalancer(ctx context.Context, svc *corev1.Service) error {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.LoadBalancerClass != nil || !p.nodeIP.IsValid() || p.opts.NodeName == "" {
		return nil // another implementation's Service, or this node cannot stand for it
	}
	nodes, err := p.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if leader(nodes) != p.opts.NodeName {
		return nil
	}
	want := []corev1.LoadBalancerIngress{{IP: p.nodeIP.String(), IPMode: new(corev1.LoadBalancerIPModeVIP)}}
	if ingressEqual(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	next := svc.DeepCopy()
	next.Status.LoadBalancer.Ingress = want
	if _, err := p.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("write load balancer ingress of %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	p.log.Info("load balancer ingress set", "service", svc.Namespace+"/"+svc.Name, "ip", p.nodeIP)
	return nil
}

// leader is the name of the Ready node that sorts first, "" if none is Ready.
func leader(nodes []*corev1.Node) string {
	var ready []string
	for _, n := range nodes {
		if nodeReady(n) {
			ready = append(ready, n.Name)
		}
	}
	if len(ready) == 0 {
		return ""
	}
	return slices.Min(ready)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ingressEqual compares ingress lists by IP and hostname, an unset IP mode counting as VIP (the
// API server's default).
func ingressEqual(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		mode := func(i corev1.LoadBalancerIngress) corev1.LoadBalancerIPMode {
			if i.IPMode == nil {
				return corev1.LoadBalancerIPModeVIP
			}
			return *i.IPMode
		}
		return x.IP == y.IP && x.Hostname == y.Hostname && mode(x) == mode(y) && len(x.Ports) == 0 && len(y.Ports) == 0
	})
}

// enqueueLoadBalancers queues every LoadBalancer Service: the node that writes their status may
// have changed.
func (p *Proxy) enqueueLoadBalancers() {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			p.queue.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}
