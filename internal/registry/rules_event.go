package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// eventKind is core/v1 Event (pkg/registry/core/event). Events are not charged to quota.
func eventKind() Kind[*corev1.Event] {
	return Kind[*corev1.Event]{
		GVR: core("events"), Kind: "Event", Namespaced: true, ShortNames: []string{"ev"},
		Verbs:    verbsAll,
		New:      func() *corev1.Event { return &corev1.Event{} },
		NewList:  func() runtime.Object { return &corev1.EventList{} },
		Strategy: eventRules(),
		Table:    eventPrinter(),
		Admit:    Admission[*corev1.Event]{NoQuota: true},
	}
}

// eventRules are upstream's core/v1 Event validation (pkg/apis/core/validation/events.go, the
// "legacy" rules that v1 requests get, on create and update alike) plus the generic metadata checks
// every object gets; event names only need to be usable in a URL path.
func eventRules() Strategy[*corev1.Event] {
	return Strategy[*corev1.Event]{Validate: validateEvent}
}

// Length limits of new-style (eventTime) events.
const (
	eventReportingInstanceMax = 128
	eventActionMax            = 128
	eventReasonMax            = 128
	eventNoteMax              = 1024
)

func validateEvent(e *corev1.Event) field.ErrorList {
	errs := validateMeta(e, true, path.ValidatePathSegmentName)
	nsPath := field.NewPath("involvedObject", "namespace")
	const mismatch = "does not match event.namespace"
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
		}
		rc := field.NewPath("reportingComponent")
		if e.ReportingController == "" {
			errs = append(errs, field.Required(rc, ""))
		}
		errs = append(errs, validateQualifiedName(e.ReportingController, rc)...)
		errs = append(errs, requiredMax(e.ReportingInstance, eventReportingInstanceMax, field.NewPath("reportingInstance"))...)
		errs = append(errs, requiredMax(e.Action, eventActionMax, field.NewPath("action"))...)
		errs = append(errs, requiredMax(e.Reason, eventReasonMax, field.NewPath("reason"))...)
		if len(e.Message) > eventNoteMax {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteMax)))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(e.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), e.Namespace, msg))
	}
	return errs
}

// requiredMax: a required string of at most max characters.
func requiredMax(value string, max int, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if value == "" {
		errs = append(errs, field.Required(fldPath, ""))
	}
	if len(value) > max {
		errs = append(errs, field.Invalid(fldPath, "", fmt.Sprintf("can have at most %v characters", max)))
	}
	return errs
}
