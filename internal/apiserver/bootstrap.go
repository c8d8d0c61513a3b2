package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// bootstrap creates the objects every cluster has: the system namespaces, and the "kubernetes"
// Service in "default" with endpoints pointing at this API server (updated on every start, since
// the port may change).
func (s *Server) bootstrap(ctx context.Context) error {
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if err := s.ensure(ctx, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: s.firstServiceIP(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(s.cfg.AdvertisePort))}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	if err := s.ensure(ctx, "default", svc); err != nil {
		return err
	}
	ip := s.cfg.AdvertiseAddress.String()
	port := int32(s.cfg.AdvertisePort)
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := s.upsert(ctx, "default", ep); err != nil {
		return err
	}
	ready := true
	proto := corev1.ProtocolTCP
	name := "https"
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "skiff-apiserver"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	return s.upsert(ctx, "default", slice)
}

// selfManager is the field manager of the objects the server keeps itself, as upstream's
// kube-apiserver writes them.
const selfManager = "kube-apiserver"

// ensure creates obj unless it exists.
func (s *Server) ensure(ctx context.Context, namespace string, obj runtime.Object) error {
	sv := s.servedFor(obj)
	if sv == nil {
		return nil
	}
	_, err := s.create(ctx, sv, namespace, obj, writeOpts{manager: selfManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s %s: %w", sv.res.Kind, metaOf(obj).GetName(), err)
	}
	return nil
}

// upsert creates obj or replaces the stored one's content with it.
func (s *Server) upsert(ctx context.Context, namespace string, obj runtime.Object) error {
	sv := s.servedFor(obj)
	if sv == nil {
		return nil
	}
	want := obj.DeepCopyObject()
	_, err := s.create(ctx, sv, namespace, obj, writeOpts{manager: selfManager})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	m := metaOf(want)
	_, err = s.guaranteedUpdate(ctx, sv, namespace, m.GetName(), updateOpts{mode: modeMain, retry: true, manager: selfManager}, func(cur runtime.Object) (runtime.Object, error) {
		next := want.DeepCopyObject()
		nm := metaOf(next)
		cm := metaOf(cur)
		nm.SetNamespace(namespace)
		nm.SetResourceVersion(cm.GetResourceVersion())
		return next, nil
	})
	return err
}

// firstServiceIP is the address the kubernetes Service gets.
func (s *Server) firstServiceIP() string {
	base := s.cfg.ServiceCIDR.IP.To4()
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(base)+1)
	return ip.String()
}
