// Package endpointslice indexes EndpointSlices by the Service they are labelled for, the lookup
// both the endpoints controller (which writes slices) and the service proxy (which reads them)
// make on a shared informer. It is a leaf: the data plane needs it without needing a controller.
package endpointslice
