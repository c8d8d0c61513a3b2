package registry

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// podKind is core/v1 Pod (pkg/registry/core/pod). A pod on a node is deleted gracefully: its
// node stops it first. Its binding subresource assigns it to a node.
func podKind() Kind[*corev1.Pod] {
	return Kind[*corev1.Pod]{
		GVR: core("pods"), Kind: "Pod", Namespaced: true, ShortNames: []string{"po"}, Categories: []string{"all"},
		Verbs: verbsAll, Subresources: []string{"status", "binding", "log", "exec", "attach", "portforward", "proxy", "eviction"},
		New:      func() *corev1.Pod { return &corev1.Pod{} },
		NewList:  func() runtime.Object { return &corev1.PodList{} },
		Strategy: podRules(),
		Table:    podPrinter(),
		Delete:   DeleteStrategy[*corev1.Pod]{Graceful: podGracePeriod, ReturnDeleted: true},
		Actions: map[string]Action{"binding": {
			Verb: "create", ReplyStatus: true,
			New:   func() runtime.Object { return &corev1.Binding{} },
			Apply: func(obj, req runtime.Object) error { return bindPod(obj.(*corev1.Pod), req.(*corev1.Binding)) },
		}},
		Proxy: podProxyTarget,
	}
}

// podRules are upstream's core/v1 Pod defaults and pod strategy (pkg/registry/core/pod).
func podRules() Strategy[*corev1.Pod] {
	return withStatusResets(Strategy[*corev1.Pod]{
		Default:        defaultPod,
		PrepareCreate:  preparePodCreate,
		PrepareUpdate:  preparePodUpdate,
		PrepareStatus:  preparePodStatus,
		Validate:       validatePod,
		ValidateUpdate: validatePodUpdate,
		ValidateStatus: validatePodStatus,
	}, fieldpath.MakePathOrDie("metadata", "deletionTimestamp"), fieldpath.MakePathOrDie("metadata", "ownerReferences"))
}

// defaultPod is SetDefaults_Pod (requests default to limits, enableServiceLinks, host-network
// ports) followed by the pod spec defaults.
func defaultPod(pod *corev1.Pod) {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			r := &cs[i].Resources
			if r.Limits == nil {
				continue
			}
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			for name, q := range r.Limits {
				if _, ok := r.Requests[name]; !ok {
					r.Requests[name] = q.DeepCopy()
				}
			}
		}
	}
	if pod.Spec.EnableServiceLinks == nil {
		pod.Spec.EnableServiceLinks = new(corev1.DefaultEnableServiceLinks)
	}
	if pod.Spec.HostNetwork {
		for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
			for i := range cs {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].HostPort == 0 {
						cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
	defaultPodSpec(&pod.Spec)
}

// preparePodCreate: generation 1, status Pending with the pod's QoS class, and a PodScheduled=False
// condition while scheduling gates hold the pod.
func preparePodCreate(pod *corev1.Pod) {
	pod.Generation = 1
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOSClass(pod)}
	if len(pod.Spec.SchedulingGates) > 0 {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		})
	}
}

// preparePodUpdate keeps the stored status and bumps generation when the spec changed.
func preparePodUpdate(pod, old *corev1.Pod) {
	pod.Status = old.Status
	if !apiequality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		pod.Generation++
	}
}

// preparePodStatus keeps the stored spec and owner references, backfills the immutable QoS class,
// and keeps observedGeneration values a client left out.
func preparePodStatus(pod, old *corev1.Pod) {
	pod.Spec = old.Spec
	pod.DeletionTimestamp = nil
	pod.OwnerReferences = old.OwnerReferences
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = old.Status.QOSClass
	}
	if pod.Status.ObservedGeneration == 0 {
		pod.Status.ObservedGeneration = old.Status.ObservedGeneration
	}
	oldGens := map[corev1.PodConditionType][]int64{}
	for _, c := range old.Status.Conditions {
		oldGens[c.Type] = append(oldGens[c.Type], c.ObservedGeneration)
	}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		var prev int64
		if gens := oldGens[c.Type]; len(gens) > 0 {
			prev, oldGens[c.Type] = gens[0], gens[1:]
		}
		if c.ObservedGeneration == 0 {
			c.ObservedGeneration = prev
		}
	}
}

// validatePod is upstream's ValidatePodCreate: metadata, pod annotations, the spec, and the rules
// for pods only.
func validatePod(pod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validateMeta(pod, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validatePodAnnotations(pod.Annotations, &pod.Spec, metaPath().Child("annotations"))...)
	errs = append(errs, validatePodSpec(&pod.Spec, specPath, true)...)
	if pod.Spec.ServiceAccountName == "" {
		for vi, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					p := specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken")
					errs = append(errs, field.Forbidden(p, "must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for _, list := range []struct {
		name       string
		containers []corev1.Container
	}{{"containers", pod.Spec.Containers}, {"initContainers", pod.Spec.InitContainers}} {
		for i, c := range list.containers {
			if len(c.Image) != len(strings.TrimSpace(c.Image)) {
				errs = append(errs, field.Invalid(specPath.Child(list.name).Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
			}
		}
	}
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

// updatablePodSpecFields is what a pod update may change, as upstream lists it in the error.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// validatePodUpdate is upstream's ValidatePodUpdate, without the checks Validate repeats: a pod
// update may only change container images, lower activeDeadlineSeconds, add tolerations and
// remove scheduling gates.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validatePodAnnotationUpdate(pod, old)
	if len(pod.Spec.Containers) != len(old.Spec.Containers) {
		return append(errs, field.Forbidden(specPath.Child("containers"), "pod updates may not add or remove containers"))
	}
	if len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath.Child("initContainers"), "pod updates may not add or remove containers"))
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		if *d < 0 || *d > math.MaxInt32 {
			return append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *d, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if o := old.Spec.ActiveDeadlineSeconds; o != nil && *o < *d {
			return append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *d, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}
	errs = append(errs, validateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, validateOnlyRemovedGates(pod.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)
	if apiequality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		return errs
	}
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 && munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	if len(old.Spec.SchedulingGates) > 0 {
		// A gated pod may gain node selector entries and node affinity before it is scheduled.
		errs = append(errs, validateGatedNodeSelector(munged.NodeSelector, old.Spec.NodeSelector, specPath.Child("nodeSelector"))...)
		munged.NodeSelector = old.Spec.NodeSelector
	}
	if !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		msg := "pod updates may not change fields other than " + strings.Join(updatablePodSpecFields, ",") + "\n" + podSpecDiff(&old.Spec, munged)
		errs = append(errs, field.Forbidden(specPath, msg))
	}
	return errs
}

// validatePodAnnotationUpdate: the mirror-pod annotation may not be added, changed or removed.
func validatePodAnnotationUpdate(pod, old *corev1.Pod) field.ErrorList {
	p := metaPath().Child("annotations").Key(corev1.MirrorPodAnnotationKey)
	oldV, had := old.Annotations[corev1.MirrorPodAnnotationKey]
	newV, has := pod.Annotations[corev1.MirrorPodAnnotationKey]
	switch {
	case had && (!has || newV != oldV):
		return field.ErrorList{field.Forbidden(p, "may not remove or update mirror pod annotation")}
	case has && !had:
		return field.ErrorList{field.Forbidden(p, "may not add mirror pod annotation")}
	}
	return nil
}

// validateOnlyAddedTolerations: existing tolerations stay (only tolerationSeconds may change).
func validateOnlyAddedTolerations(tolerations, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range tolerations {
			o.TolerationSeconds = t.TolerationSeconds
			if reflect.DeepEqual(o, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// validateOnlyRemovedGates: scheduling gates may be removed, not added.
func validateOnlyRemovedGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	had := map[string]bool{}
	for _, g := range old {
		had[g.Name] = true
	}
	var errs field.ErrorList
	for i, g := range gates {
		if !had[g.Name] {
			errs = append(errs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// validateGatedNodeSelector: a gated pod's node selector may only gain entries.
func validateGatedNodeSelector(selector, old map[string]string, fldPath *field.Path) field.ErrorList {
	for k, v := range old {
		if nv, ok := selector[k]; !ok || nv != v {
			return field.ErrorList{field.Invalid(fldPath, selector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)")}
		}
	}
	return nil
}

// podSpecDiff lists the top-level pod spec fields that differ, old and new, one per line, to
// tell the user what the forbidden update changed.
func podSpecDiff(old, updated *corev1.PodSpec) string {
	var b strings.Builder
	ov, nv := reflect.ValueOf(*old), reflect.ValueOf(*updated)
	t := ov.Type()
	for i := range t.NumField() {
		a, c := ov.Field(i).Interface(), nv.Field(i).Interface()
		if apiequality.Semantic.DeepEqual(a, c) {
			continue
		}
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		oj, _ := json.Marshal(a)
		nj, _ := json.Marshal(c)
		fmt.Fprintf(&b, "  spec.%s: %s -> %s\n", name, oj, nj)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// validatePodStatus is upstream's ValidatePodStatusUpdate: metadata, condition types, an
// immutable QoS class, no terminated container coming back under restartPolicy Never or
// OnFailure (after success), and well-formed pod and host IPs.
func validatePodStatus(pod, old *corev1.Pod) field.ErrorList {
	errs := validateMetaMutable(pod)
	errs = append(errs, validatePodAnnotationUpdate(pod, old)...)
	statusPath := field.NewPath("status")
	for i, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
		default:
			// Upstream reports custom condition types under metadata.conditions[i].Type.
			errs = append(errs, validateQualifiedName(string(c.Type), metaPath().Child("conditions").Index(i).Child("Type"))...)
		}
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pod.Status.QOSClass, old.Status.QOSClass, statusPath.Child("qosClass"))...)
	errs = append(errs, validateContainerStateTransition(pod.Status.ContainerStatuses, old.Status.ContainerStatuses, old.Spec.RestartPolicy, statusPath.Child("containerStatuses"))...)
	for i, ip := range pod.Status.PodIPs {
		errs = append(errs, validation.IsValidIP(statusPath.Child("podIPs").Index(i), ip.IP)...)
	}
	if len(pod.Status.HostIPs) > 0 {
		if pod.Status.HostIP != pod.Status.HostIPs[0].IP {
			errs = append(errs, field.Invalid(statusPath.Child("hostIPs").Index(0).Child("ip"), pod.Status.HostIPs[0].IP, "must be equal to `hostIP`"))
		}
		for i, ip := range pod.Status.HostIPs {
			errs = append(errs, validation.IsValidIP(statusPath.Child("hostIPs").Index(i), ip.IP)...)
		}
	}
	return errs
}

// validateContainerStateTransition: under restartPolicy Never (or OnFailure, after a zero exit),
// a terminated container stays terminated.
func validateContainerStateTransition(statuses, old []corev1.ContainerStatus, policy corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, o := range old {
		t := o.State.Terminated
		if t == nil || (t.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure) {
			continue
		}
		for _, s := range statuses {
			if s.Name == o.Name && s.State.Terminated == nil {
				errs = append(errs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}
