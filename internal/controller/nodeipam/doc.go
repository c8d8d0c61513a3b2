// Package nodeipam gives every Node a pod range: a block of the cluster CIDR (127.64.0.0/10 by
// default, blocks of /16), written to spec.podCIDR and spec.podCIDRs. Node agents wait for it and
// hand their pods addresses from it, as Kubernetes' range allocator and host-local IPAM do.
package nodeipam
