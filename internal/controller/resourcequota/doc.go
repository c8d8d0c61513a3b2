// Package resourcequota keeps each ResourceQuota's status current: status.hard
// mirrors spec.hard and status.used counts what the namespace holds of the
// tracked resources (pods, services, replicationcontrollers, configmaps,
// secrets, their count/<resource> forms, and cpu/memory requests and limits).
// Its pure functions Usage and Admit are what an API server needs to refuse a
// create that would exceed a quota, with Kubernetes' wording.
package resourcequota
