// Package quota computes what objects count for under a ResourceQuota and decides whether a
// create fits one, with Kubernetes' semantics and wording, as upstream's pkg/quota/v1 does: the
// resourcequota controller uses Usage to keep status.used current, and the API server's quota
// admission uses Admit to refuse a create that would exceed status.hard.
package quota
