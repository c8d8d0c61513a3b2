package registry

import (
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Endpoints (core/v1) and EndpointSlice (discovery.k8s.io/v1) rules, after upstream's
// ValidateEndpoints and discovery validation. Addresses may be loopback addresses, which upstream
// rejects: skiff's pods live in 127.0.0.0/8 (see validateUsableIP).

// endpointsKind is core/v1 Endpoints (pkg/registry/core/endpoint).
func endpointsKind() Kind[*corev1.Endpoints] {
	return Kind[*corev1.Endpoints]{
		GVR: core("endpoints"), Kind: "Endpoints", Namespaced: true, ShortNames: []string{"ep"},
		Verbs:    verbsAll,
		New:      func() *corev1.Endpoints { return &corev1.Endpoints{} },
		NewList:  func() runtime.Object { return &corev1.EndpointsList{} },
		Strategy: endpointsRules(),
		Table:    endpointsPrinter(),
	}
}

// endpointSliceKind is discovery.k8s.io/v1 EndpointSlice (pkg/registry/discovery/endpointslice).
func endpointSliceKind() Kind[*discoveryv1.EndpointSlice] {
	return Kind[*discoveryv1.EndpointSlice]{
		GVR:        schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
		Kind:       "EndpointSlice",
		Namespaced: true, Verbs: verbsAll,
		New:      func() *discoveryv1.EndpointSlice { return &discoveryv1.EndpointSlice{} },
		NewList:  func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Strategy: endpointSliceRules(),
		Table:    endpointSlicePrinter(),
	}
}

func endpointsRules() Strategy[*corev1.Endpoints] {
	return Strategy[*corev1.Endpoints]{
		Default: func(ep *corev1.Endpoints) {
			for i := range ep.Subsets {
				for j := range ep.Subsets[i].Ports {
					if ep.Subsets[i].Ports[j].Protocol == "" {
						ep.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
					}
				}
			}
		},
		Validate: validateEndpoints,
	}
}

// validateEndpoints: every subset has addresses; addresses are usable IPs with valid host and
// node names; ports are named when there are several.
func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	errs := validateMeta(ep, true, apivalidation.NameIsDNSSubdomain)
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			errs = append(errs, validateEndpointPort(&ss.Ports[j], len(ss.Ports) > 1, p.Child("ports").Index(j))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	errs := validation.IsValidIP(fldPath.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, validateDNSLabel(a.Hostname, fldPath.Child("hostname"))...)
	}
	if a.NodeName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*a.NodeName, false) {
			errs = append(errs, field.Invalid(fldPath.Child("nodeName"), *a.NodeName, msg))
		}
	}
	return append(errs, validateUsableIP(a.IP, fldPath.Child("ip"))...)
}

func validateEndpointPort(port *corev1.EndpointPort, requireName bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && port.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else if port.Name != "" {
		errs = append(errs, validateDNSLabel(port.Name, fldPath.Child("name"))...)
	}
	for _, msg := range validation.IsValidPortNum(int(port.Port)) {
		errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port, msg))
	}
	errs = append(errs, validateProtocol(port.Protocol, fldPath.Child("protocol"))...)
	if port.AppProtocol != nil {
		errs = append(errs, validateQualifiedName(*port.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return errs
}

// endpointSliceRules are upstream's discovery/v1 defaults and endpointslice strategy: generation
// 1 on create, bumped by any change but to metadata (labels count).
func endpointSliceRules() Strategy[*discoveryv1.EndpointSlice] {
	return Strategy[*discoveryv1.EndpointSlice]{
		Default: func(s *discoveryv1.EndpointSlice) {
			for i := range s.Ports {
				if s.Ports[i].Name == nil {
					s.Ports[i].Name = new("")
				}
				if s.Ports[i].Protocol == nil {
					s.Ports[i].Protocol = new(corev1.ProtocolTCP)
				}
			}
		},
		PrepareCreate: func(s *discoveryv1.EndpointSlice) { s.Generation = 1 },
		PrepareUpdate: func(s, old *discoveryv1.EndpointSlice) {
			if s.AddressType != old.AddressType || !apiequality.Semantic.DeepEqual(s.Endpoints, old.Endpoints) ||
				!apiequality.Semantic.DeepEqual(s.Ports, old.Ports) || !apiequality.Semantic.DeepEqual(s.Labels, old.Labels) {
				s.Generation = old.Generation + 1
			}
		},
		Validate: validateEndpointSlice,
		ValidateUpdate: func(s, old *discoveryv1.EndpointSlice) field.ErrorList {
			return apivalidation.ValidateImmutableField(s.AddressType, old.AddressType, field.NewPath("addressType"))
		},
	}
}

// endpointSliceAddressTypes are the address types a new slice may use.
var endpointSliceAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

// validateEndpointSlice: a supported address type, at most 1000 endpoints of 1 to 100 addresses
// of that type, at most 100 ports with unique DNS-label names.
func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateMeta(s, true, apivalidation.NameIsDNSSubdomain)
	typePath := field.NewPath("addressType")
	switch s.AddressType {
	case "":
		errs = append(errs, field.Required(typePath, ""))
	case discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
	default:
		errs = append(errs, field.NotSupported(typePath, s.AddressType, endpointSliceAddressTypes))
	}
	epPath := field.NewPath("endpoints")
	if len(s.Endpoints) > 1000 {
		errs = append(errs, field.TooMany(epPath, len(s.Endpoints), 1000))
	} else {
		for i, ep := range s.Endpoints {
			errs = append(errs, validateSliceEndpoint(ep, s.AddressType, epPath.Index(i))...)
		}
	}
	portsPath := field.NewPath("ports")
	if len(s.Ports) > 100 {
		return append(errs, field.TooMany(portsPath, len(s.Ports), 100))
	}
	names := map[string]bool{}
	for i, port := range s.Ports {
		p := portsPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, validateDNSLabel(name, p.Child("name"))...)
		}
		if names[name] {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names[name] = true
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(*port.Protocol, p.Child("protocol"))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, validateQualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return errs
}

func validateSliceEndpoint(ep discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	addrPath := fldPath.Child("addresses")
	switch n := len(ep.Addresses); {
	case n == 0:
		errs = append(errs, field.Required(addrPath, "must contain at least 1 address"))
	case n > 100:
		errs = append(errs, field.TooMany(addrPath, n, 100))
	}
	for i, addr := range ep.Addresses {
		p := addrPath.Index(i)
		switch addrType {
		case discoveryv1.AddressTypeIPv4:
			if ip := net.ParseIP(addr); ip == nil || ip.To4() == nil || strings.Contains(addr, ":") {
				errs = append(errs, field.Invalid(p, addr, "must be a valid IPv4 address"))
			} else {
				errs = append(errs, validateUsableIP(addr, p)...)
			}
		case discoveryv1.AddressTypeIPv6:
			if ip := net.ParseIP(addr); ip == nil || !strings.Contains(addr, ":") {
				errs = append(errs, field.Invalid(p, addr, "must be a valid IPv6 address"))
			} else {
				errs = append(errs, validateUsableIP(addr, p)...)
			}
		case discoveryv1.AddressTypeFQDN:
			errs = append(errs, validation.IsFullyQualifiedDomainName(p, addr)...)
		}
	}
	if ep.Hostname != nil {
		errs = append(errs, validateDNSLabel(*ep.Hostname, fldPath.Child("hostname"))...)
	}
	if ep.DeprecatedTopology != nil {
		tp := fldPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > 16 {
			errs = append(errs, field.TooMany(tp, len(ep.DeprecatedTopology), 16))
		}
		errs = append(errs, metav1validation.ValidateLabels(ep.DeprecatedTopology, tp)...)
	}
	return errs
}
