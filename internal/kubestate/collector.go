package kubestate

import (
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Lister returns every object of a resource held by the server (any order).
type Lister func(gr schema.GroupResource) []runtime.Object

var (
	deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}
	replicaSets = schema.GroupResource{Group: "apps", Resource: "replicasets"}
)

// Collector is a prometheus.Collector over a Lister: it holds no state between scrapes.
type Collector struct {
	list Lister
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a collector reading objects through list.
func New(list Lister) *Collector { return &Collector{list: list} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	deployLabels = []string{"namespace", "deployment"}
	rsLabels     = []string{"namespace", "replicaset"}

	deploySpecReplicas  = desc("kube_deployment_spec_replicas", "Number of desired pods for a deployment.", deployLabels...)
	deploySpecPaused    = desc("kube_deployment_spec_paused", "Whether the deployment is paused and will not be processed by the deployment controller.", deployLabels...)
	deployReplicas      = desc("kube_deployment_status_replicas", "The number of replicas per deployment.", deployLabels...)
	deployReady         = desc("kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", deployLabels...)
	deployAvailable     = desc("kube_deployment_status_replicas_available", "The number of available replicas per deployment.", deployLabels...)
	deployUnavailable   = desc("kube_deployment_status_replicas_unavailable", "The number of unavailable replicas per deployment.", deployLabels...)
	deployUpdated       = desc("kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", deployLabels...)
	deployObservedGen   = desc("kube_deployment_status_observed_generation", "The generation observed by the deployment controller.", deployLabels...)
	deployGeneration    = desc("kube_deployment_metadata_generation", "Sequence number representing a specific generation of the desired state.", deployLabels...)
	deployCondition     = desc("kube_deployment_status_condition", "The current status conditions of a deployment.", append(deployLabels, "condition", "status")...)
	deployCreated       = desc("kube_deployment_created", "Unix creation timestamp", deployLabels...)
	deployMaxUnavail    = desc("kube_deployment_spec_strategy_rollingupdate_max_unavailable", "Maximum number of unavailable replicas during a rolling update of a deployment.", deployLabels...)
	deployMaxSurge      = desc("kube_deployment_spec_strategy_rollingupdate_max_surge", "Maximum number of replicas that can be scheduled above the desired number of replicas during a rolling update of a deployment.", deployLabels...)
	rsSpecReplicas      = desc("kube_replicaset_spec_replicas", "Number of desired pods for a ReplicaSet.", rsLabels...)
	rsReplicas          = desc("kube_replicaset_status_replicas", "The number of replicas per ReplicaSet.", rsLabels...)
	rsReady             = desc("kube_replicaset_status_ready_replicas", "The number of ready replicas per ReplicaSet.", rsLabels...)
	rsFullyLabeled      = desc("kube_replicaset_status_fully_labeled_replicas", "The number of fully labeled replicas per ReplicaSet.", rsLabels...)
	rsObservedGen       = desc("kube_replicaset_status_observed_generation", "The generation observed by the ReplicaSet controller.", rsLabels...)
	rsGeneration        = desc("kube_replicaset_metadata_generation", "Sequence number representing a specific generation of the desired state.", rsLabels...)
	rsCreated           = desc("kube_replicaset_created", "Unix creation timestamp", rsLabels...)
	rsOwner             = desc("kube_replicaset_owner", "Information about the ReplicaSet's owner.", append(rsLabels, "owner_kind", "owner_name", "owner_is_controller")...)
	allDescs            = []*prometheus.Desc{deploySpecReplicas, deploySpecPaused, deployReplicas, deployReady, deployAvailable, deployUnavailable, deployUpdated, deployObservedGen, deployGeneration, deployCondition, deployCreated, deployMaxUnavail, deployMaxSurge, rsSpecReplicas, rsReplicas, rsReady, rsFullyLabeled, rsObservedGen, rsGeneration, rsCreated, rsOwner}
	conditionStatuses   = []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}
	conditionStatusText = []string{"true", "false", "unknown"}
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, obj := range c.list(deployments) {
		if d, ok := obj.(*appsv1.Deployment); ok {
			collectDeployment(ch, d)
		}
	}
	for _, obj := range c.list(replicaSets) {
		if rs, ok := obj.(*appsv1.ReplicaSet); ok {
			collectReplicaSet(ch, rs)
		}
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func collectDeployment(ch chan<- prometheus.Metric, d *appsv1.Deployment) {
	ns, name := d.Namespace, d.Name
	if d.Spec.Replicas != nil {
		gauge(ch, deploySpecReplicas, float64(*d.Spec.Replicas), ns, name)
	}
	gauge(ch, deploySpecPaused, boolValue(d.Spec.Paused), ns, name)
	gauge(ch, deployReplicas, float64(d.Status.Replicas), ns, name)
	gauge(ch, deployReady, float64(d.Status.ReadyReplicas), ns, name)
	gauge(ch, deployAvailable, float64(d.Status.AvailableReplicas), ns, name)
	gauge(ch, deployUnavailable, float64(d.Status.UnavailableReplicas), ns, name)
	gauge(ch, deployUpdated, float64(d.Status.UpdatedReplicas), ns, name)
	gauge(ch, deployObservedGen, float64(d.Status.ObservedGeneration), ns, name)
	gauge(ch, deployGeneration, float64(d.Generation), ns, name)
	if !d.CreationTimestamp.IsZero() {
		gauge(ch, deployCreated, float64(d.CreationTimestamp.Unix()), ns, name)
	}
	for _, cond := range d.Status.Conditions {
		for i, s := range conditionStatuses {
			gauge(ch, deployCondition, boolValue(cond.Status == s), ns, name, string(cond.Type), conditionStatusText[i])
		}
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && d.Spec.Replicas != nil {
		// As kube-state-metrics: percentages resolved against spec.replicas, unavailable
		// rounded down and surge up, as the deployment controller resolves them.
		replicas := int(*d.Spec.Replicas)
		if ru.MaxUnavailable != nil {
			if v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, replicas, false); err == nil {
				gauge(ch, deployMaxUnavail, float64(v), ns, name)
			}
		}
		if ru.MaxSurge != nil {
			if v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, replicas, true); err == nil {
				gauge(ch, deployMaxSurge, float64(v), ns, name)
			}
		}
	}
}

func collectReplicaSet(ch chan<- prometheus.Metric, rs *appsv1.ReplicaSet) {
	ns, name := rs.Namespace, rs.Name
	if rs.Spec.Replicas != nil {
		gauge(ch, rsSpecReplicas, float64(*rs.Spec.Replicas), ns, name)
	}
	gauge(ch, rsReplicas, float64(rs.Status.Replicas), ns, name)
	gauge(ch, rsReady, float64(rs.Status.ReadyReplicas), ns, name)
	gauge(ch, rsFullyLabeled, float64(rs.Status.FullyLabeledReplicas), ns, name)
	gauge(ch, rsObservedGen, float64(rs.Status.ObservedGeneration), ns, name)
	gauge(ch, rsGeneration, float64(rs.Generation), ns, name)
	if !rs.CreationTimestamp.IsZero() {
		gauge(ch, rsCreated, float64(rs.CreationTimestamp.Unix()), ns, name)
	}
	if len(rs.OwnerReferences) == 0 {
		gauge(ch, rsOwner, 1, ns, name, "<none>", "<none>", "<none>")
	}
	for _, o := range rs.OwnerReferences {
		controller := "false"
		if o.Controller != nil && *o.Controller {
			controller = "true"
		}
		gauge(ch, rsOwner, 1, ns, name, o.Kind, o.Name, controller)
	}
}
