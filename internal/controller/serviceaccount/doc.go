// Package serviceaccount publishes what every active namespace has on
// Kubernetes: a ServiceAccount named "default" and the ConfigMap
// "kube-root-ca.crt" carrying the cluster CA under "ca.crt". Both are
// recreated when deleted, and the ConfigMap is corrected when edited.
package serviceaccount
