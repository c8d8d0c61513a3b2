package registry

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestMiscRows(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "x", Namespace: "default", CreationTimestamp: tableAgo(26 * time.Hour)}
	tests := []struct {
		name string
		p    printer
		obj  runtime.Object
		want []interface{}
	}{
		{name: "namespace prints its phase",
			p: namespacePrinter(), obj: &corev1.Namespace{ObjectMeta: meta, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			want: []interface{}{"x", "Terminating", "26h"}},
		{name: "configmap counts data and binary data keys",
			p: configMapPrinter(), obj: &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": "1", "b": "2"},
				BinaryData: map[string][]byte{"c": {0}}},
			want: []interface{}{"x", int64(3), "26h"}},
		{name: "secret prints its type and data count",
			p: secretPrinter(), obj: &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{"user": []byte("u"), "pass": []byte("p")}},
			want: []interface{}{"x", "Opaque", int64(2), "26h"}},
		{name: "secret counts stringData keys not already in data",
			p: secretPrinter(), obj: &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"tls.crt": nil}, StringData: map[string]string{"tls.crt": "c", "tls.key": "k"}},
			want: []interface{}{"x", "kubernetes.io/tls", int64(2), "26h"}},
		{name: "serviceaccount counts its secrets",
			p: serviceAccountPrinter(), obj: &corev1.ServiceAccount{ObjectMeta: meta, Secrets: []corev1.ObjectReference{{Name: "t"}}},
			want: []interface{}{"x", int64(1), "26h"}},
		{name: "resourcequota prints pods: 1/10, services: 0/5",
			p: resourceQuotaPrinter(), obj: &corev1.ResourceQuota{ObjectMeta: meta, Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"services": resource.MustParse("5"), "pods": resource.MustParse("10")},
				Used: corev1.ResourceList{"pods": resource.MustParse("1")},
			}},
			want: []interface{}{"x", "pods: 1/10, services: 0/5", "", "26h"}},
		{name: "resourcequota puts limits.* under LIMIT",
			p: resourceQuotaPrinter(), obj: &corev1.ResourceQuota{ObjectMeta: meta, Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"limits.cpu": resource.MustParse("2"), "limits.memory": resource.MustParse("2Gi"),
					"requests.cpu": resource.MustParse("1"), "limits": resource.MustParse("1")},
				Used: corev1.ResourceList{"limits.cpu": resource.MustParse("500m"), "requests.cpu": resource.MustParse("250m")},
			}},
			want: []interface{}{"x", "limits: 0/1, requests.cpu: 250m/1", "limits.cpu: 500m/2, limits.memory: 0/2Gi", "26h"}},
		{name: "lease prints its holder",
			p: leasePrinter(), obj: &coordinationv1.Lease{ObjectMeta: meta, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1")}},
			want: []interface{}{"x", "node-1", "26h"}},
		{name: "lease without holder prints an empty holder",
			p: leasePrinter(), obj: &coordinationv1.Lease{ObjectMeta: meta},
			want: []interface{}{"x", "", "26h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, tt.p.row(tt.obj, tableNow()), tt.want)
		})
	}
}

func TestMiscFields(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	if got := namespacePrinter().fields(ns); got["status.phase"] != "Active" || got["name"] != "team-a" {
		t.Errorf("namespace fields = %v, want status.phase=Active and name=team-a", got)
	}
	s := &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken}
	if got := secretPrinter().fields(s)["type"]; got != "kubernetes.io/service-account-token" {
		t.Errorf("secret type field = %q", got)
	}
	for _, p := range []printer{configMapPrinter(), serviceAccountPrinter(), resourceQuotaPrinter(), leasePrinter()} {
		if p.fields != nil {
			t.Errorf("printer with columns %v has fields upstream does not", p.columns)
		}
	}
}
