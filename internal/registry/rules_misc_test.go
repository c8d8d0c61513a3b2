package registry

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestSmallKindsCreate covers the kinds with few rules, one create each.
func TestSmallKindsCreate(t *testing.T) {
	ns := func(name string) metav1.ObjectMeta { return metaOf(name, "default", nil) }
	tests := []struct {
		name     string
		group    string
		resource string
		obj      runtime.Object
		check    func(runtime.Object) bool
		want     []string
	}{
		{"secret type defaults to Opaque and stringData folds into data", "", "secrets",
			&corev1.Secret{ObjectMeta: ns("s"), StringData: map[string]string{"user": "admin"}},
			func(o runtime.Object) bool {
				s := o.(*corev1.Secret)
				return s.Type == corev1.SecretTypeOpaque && string(s.Data["user"]) == "admin" && s.StringData == nil
			}, nil},
		{"tls secret needs tls.crt and tls.key", "", "secrets",
			&corev1.Secret{ObjectMeta: ns("s"), Type: corev1.SecretTypeTLS},
			nil, []string{"data[tls.crt]: Required value", "data[tls.key]: Required value"}},
		{"secret key must be a valid config map key", "", "secrets",
			&corev1.Secret{ObjectMeta: ns("s"), Data: map[string][]byte{"a b": nil}},
			nil, []string{"data[a b]: Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"}},
		{"config map key in data and binaryData", "", "configmaps",
			&corev1.ConfigMap{ObjectMeta: ns("c"), Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"k": nil}},
			nil, []string{"data[k]: Invalid value: duplicate of key present in binaryData"}},
		{"quota with an unknown resource", "", "resourcequotas",
			&corev1.ResourceQuota{ObjectMeta: ns("q"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
				"pods": resource.MustParse("10"), "gpus": resource.MustParse("1")}}},
			nil, []string{
				"spec.hard[gpus]: Invalid value: must be a standard resource for quota",
				"spec.hard[gpus]: Invalid value: must be a standard resource type or fully qualified"}},
		{"quota pods must be whole", "", "resourcequotas",
			&corev1.ResourceQuota{ObjectMeta: ns("q"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
				"pods": resource.MustParse("1500m"), "requests.cpu": resource.MustParse("-1")}}},
			nil, []string{"spec.hard[pods]: Invalid value: must be an integer",
				"spec.hard[requests.cpu]: Invalid value: must be greater than or equal to 0"}},
		{"quota status is cleared on create", "", "resourcequotas",
			&corev1.ResourceQuota{ObjectMeta: ns("q"), Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{"pods": resource.MustParse("1")}}},
			func(o runtime.Object) bool { return o.(*corev1.ResourceQuota).Status.Used == nil }, nil},
		{"endpoints port protocol defaults to TCP", "", "endpoints",
			&corev1.Endpoints{ObjectMeta: ns("web"), Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "127.3.0.4"}}, Ports: []corev1.EndpointPort{{Port: 8080}}}}},
			func(o runtime.Object) bool {
				return o.(*corev1.Endpoints).Subsets[0].Ports[0].Protocol == corev1.ProtocolTCP
			}, nil},
		{"endpoints subset without addresses", "", "endpoints",
			&corev1.Endpoints{ObjectMeta: ns("web"), Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}},
			nil, []string{"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"}},
		{"endpoint slice defaults and generation", "discovery.k8s.io", "endpointslices",
			&discoveryv1.EndpointSlice{ObjectMeta: ns("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"127.3.0.4"}}},
				Ports:     []discoveryv1.EndpointPort{{Port: new(int32(80))}}},
			func(o runtime.Object) bool {
				s := o.(*discoveryv1.EndpointSlice)
				return *s.Ports[0].Protocol == corev1.ProtocolTCP && *s.Ports[0].Name == "" && s.Generation == 1
			}, nil},
		{"endpoint slice IPv4 address must be IPv4", "discovery.k8s.io", "endpointslices",
			&discoveryv1.EndpointSlice{ObjectMeta: ns("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"::1"}}}},
			nil, []string{"endpoints[0].addresses[0]: Invalid value: must be a valid IPv4 address"}},
		{"event names need only be path segments", "", "events",
			&corev1.Event{ObjectMeta: ns("web.17a2b3c4d5e6f"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}},
			nil, nil},
		{"event namespace must match its object's", "", "events",
			&corev1.Event{ObjectMeta: ns("e"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "web"}},
			nil, []string{"involvedObject.namespace: Invalid value: does not match event.namespace"}},
		{"lease duration must be positive", "coordination.k8s.io", "leases",
			&coordinationv1.Lease{ObjectMeta: ns("l"), Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: new(int32(0))}},
			nil, []string{"spec.leaseDurationSeconds: Invalid value: must be greater than 0"}},
		{"controller revision needs data", "apps", "controllerrevisions",
			&appsv1.ControllerRevision{ObjectMeta: ns("r"), Revision: 1},
			nil, []string{"data: Required value: data is mandatory"}},
		{"service account secrets keep only their name", "", "serviceaccounts",
			&corev1.ServiceAccount{ObjectMeta: ns("sa"), Secrets: []corev1.ObjectReference{{Name: "t", Namespace: "x", Kind: "Secret"}}},
			func(o runtime.Object) bool {
				return o.(*corev1.ServiceAccount).Secrets[0] == corev1.ObjectReference{Name: "t"}
			}, nil},
		{"node allocatable defaults to capacity", "", "nodes",
			&corev1.Node{ObjectMeta: metaOf("node-1", "", nil), Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"pods": resource.MustParse("110")}}},
			func(o runtime.Object) bool {
				q := o.(*corev1.Node).Status.Allocatable["pods"]
				return q.String() == "110"
			}, nil},
		{"node taint needs an effect", "", "nodes",
			&corev1.Node{ObjectMeta: metaOf("node-1", "", nil), Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k"}}}},
			nil, []string{"metadata.taints[0].effect: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rulesOf(t, tt.group, tt.resource)
			checkRuleErrs(t, runCreate(r, tt.obj), tt.want)
			if tt.check != nil && !tt.check(tt.obj) {
				t.Errorf("unexpected result %+v", tt.obj)
			}
		})
	}
}

// TestSmallKindsUpdate covers the update rules of the kinds with few rules.
func TestSmallKindsUpdate(t *testing.T) {
	tests := []struct {
		name     string
		group    string
		resource string
		old      runtime.Object
		edit     func(runtime.Object)
		want     []string
	}{
		{"immutable config map keeps its data", "", "configmaps",
			&corev1.ConfigMap{ObjectMeta: metaOf("c", "default", nil), Immutable: new(true), Data: map[string]string{"k": "v"}},
			func(o runtime.Object) { o.(*corev1.ConfigMap).Data["k"] = "w" },
			[]string{"data: Forbidden: field is immutable when `immutable` is set"}},
		{"secret type is immutable", "", "secrets",
			&corev1.Secret{ObjectMeta: metaOf("s", "default", nil)},
			func(o runtime.Object) { o.(*corev1.Secret).Type = "example.com/other" },
			[]string{"type: Invalid value: field is immutable"}},
		{"quota scopes are immutable", "", "resourcequotas",
			&corev1.ResourceQuota{ObjectMeta: metaOf("q", "default", nil)},
			func(o runtime.Object) {
				o.(*corev1.ResourceQuota).Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
			},
			[]string{"spec.scopes: Invalid value: field is immutable"}},
		{"endpoint slice address type is immutable", "discovery.k8s.io", "endpointslices",
			&discoveryv1.EndpointSlice{ObjectMeta: metaOf("e", "default", nil), AddressType: discoveryv1.AddressTypeIPv4},
			func(o runtime.Object) { o.(*discoveryv1.EndpointSlice).AddressType = discoveryv1.AddressTypeFQDN },
			[]string{"addressType: Invalid value: field is immutable"}},
		{"controller revision data is immutable", "apps", "controllerrevisions",
			&appsv1.ControllerRevision{ObjectMeta: metaOf("r", "default", nil), Data: runtime.RawExtension{Raw: []byte(`{"a": 1}`)}},
			func(o runtime.Object) { o.(*appsv1.ControllerRevision).Data.Raw = []byte(`{"a":2}`) },
			[]string{"data: Invalid value: field is immutable"}},
		{"controller revision data may be reformatted", "apps", "controllerrevisions",
			&appsv1.ControllerRevision{ObjectMeta: metaOf("r", "default", nil), Data: runtime.RawExtension{Raw: []byte(`{"a": 1}`)}},
			func(o runtime.Object) { o.(*appsv1.ControllerRevision).Data.Raw = []byte(`{"a":1}`) },
			nil},
		{"node podCIDRs are set once", "", "nodes",
			&corev1.Node{ObjectMeta: metaOf("n", "", nil), Spec: corev1.NodeSpec{PodCIDRs: []string{"10.0.0.0/24"}}},
			func(o runtime.Object) { o.(*corev1.Node).Spec.PodCIDRs = []string{"10.0.1.0/24"} },
			[]string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rulesOf(t, tt.group, tt.resource)
			if errs := runCreate(r, tt.old); len(errs) != 0 {
				t.Fatalf("create: %v", errs)
			}
			m := tt.old.(metav1.Object)
			m.SetUID("uid-1")
			m.SetResourceVersion("7")
			obj := tt.old.DeepCopyObject()
			tt.edit(obj)
			checkRuleErrs(t, runUpdate(r, obj, tt.old), tt.want)
		})
	}
}

func TestEveryServedResourceHasRules(t *testing.T) {
	for _, r := range All() {
		if !r.Stored() {
			continue // reviews are only created and live kinds only read: never stored or updated
		}
		if r.Validate == nil || r.ValidateUpdate == nil || r.PrepareForUpdate == nil {
			t.Errorf("%s has no rules", r.GVR)
		}
		if strings.Contains(strings.Join(r.Subresources, ","), "status") && r.ValidateStatusUpdate == nil {
			t.Errorf("%s serves status without status rules", r.GVR)
		}
	}
}
