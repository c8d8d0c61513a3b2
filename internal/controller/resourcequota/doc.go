// Package resourcequota keeps each ResourceQuota's status current: status.hard
// mirrors spec.hard and status.used counts what the namespace holds of the
// tracked resources (pods, services, replicationcontrollers, configmaps,
// secrets, their count/<resource> forms, and cpu/memory requests and limits),
// as package quota, which the API server's quota admission shares, counts it.
package resourcequota
