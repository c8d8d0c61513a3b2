package endpointslice

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func slice(ns, name, service string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if service != "" {
		s.Labels = map[string]string{discoveryv1.LabelServiceName: service}
	}
	return s
}

func TestForServiceFindsTheSlicesLabelledForIt(t *testing.T) {
	inf := informers.NewSharedInformerFactory(fake.NewClientset(), 0).Discovery().V1().EndpointSlices().Informer()
	for range 2 { // the controller and the proxy each add it to the shared informer
		if err := AddIndex(inf); err != nil {
			t.Fatalf("AddIndex: %v", err)
		}
	}
	for _, s := range []*discoveryv1.EndpointSlice{
		slice("default", "web-a", "web"), slice("default", "web-b", "web"),
		slice("other", "web-c", "web"), slice("default", "db-a", "db"), slice("default", "stray", ""),
	} {
		if err := inf.GetIndexer().Add(s); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		ns, svc string
		want    int
	}{
		{name: "both slices of default/web", ns: "default", svc: "web", want: 2},
		{name: "a namespace sees only its own", ns: "other", svc: "web", want: 1},
		{name: "a Service without slices", ns: "default", svc: "none", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ForService(inf.GetIndexer(), tt.ns, tt.svc)
			if len(got) != tt.want {
				t.Fatalf("ForService(%s, %s) = %d slices, want %d", tt.ns, tt.svc, len(got), tt.want)
			}
			for _, s := range got {
				if s.Namespace != tt.ns || s.Labels[discoveryv1.LabelServiceName] != tt.svc {
					t.Errorf("slice %s/%s is not labelled for %s/%s", s.Namespace, s.Name, tt.ns, tt.svc)
				}
			}
		})
	}
}
