// Package endpoints keeps the Endpoints and EndpointSlices of every Service in step with the
// pods its selector matches, the way upstream's endpoints and endpointslice controllers do:
// ready pods are addresses, unready ones notReadyAddresses, a pod being deleted leaves the ready
// set the moment its deletionTimestamp appears, and named target ports are resolved per pod. For
// Services without a selector it mirrors user-written Endpoints into EndpointSlices, so that the
// service proxy, which reads slices only, serves them too.
//
// Planning is pure (desiredSubsets, podGroups, endpointsGroups, planSlices); Controller applies
// the plan through the API and writes nothing when nothing changed.
package endpoints
