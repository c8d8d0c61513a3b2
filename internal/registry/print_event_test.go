package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func tableEvent(mutate ...func(*corev1.Event)) *corev1.Event {
	e := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "web.17a2b3c4d5e6f7a8", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: "uid-1",
			APIVersion: "v1", ResourceVersion: "42", FieldPath: "spec.containers{web}"},
		Reason:         "BackOff",
		Message:        "Back-off restarting failed container\n",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: tableAgo(10 * time.Minute),
		LastTimestamp:  tableAgo(30 * time.Second),
		Count:          5,
		Type:           corev1.EventTypeWarning,
	}
	for _, m := range mutate {
		m(e)
	}
	return e
}

func TestEventRow(t *testing.T) {
	tests := []struct {
		name  string
		event *corev1.Event
		want  []interface{}
	}{
		{name: "core event prints last seen, kind/name, source with host and trimmed message",
			event: tableEvent(),
			want: []interface{}{"30s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1",
				"Back-off restarting failed container", "10m", int64(5), "web.17a2b3c4d5e6f7a8"}},
		{name: "event without last timestamp prints first seen as last seen",
			event: tableEvent(func(e *corev1.Event) { e.LastTimestamp = metav1.Time{} }),
			want: []interface{}{"10m", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1",
				"Back-off restarting failed container", "10m", int64(5), "web.17a2b3c4d5e6f7a8"}},
		{name: "new-API singleton event uses eventTime, reporting controller and count 1",
			event: tableEvent(func(e *corev1.Event) {
				e.FirstTimestamp, e.LastTimestamp, e.Count = metav1.Time{}, metav1.Time{}, 0
				e.EventTime = tableMicroAgo(3 * time.Minute)
				e.Source = corev1.EventSource{}
				e.ReportingController, e.ReportingInstance = "default-scheduler", "scheduler-0"
				e.Type, e.Reason, e.Message = corev1.EventTypeNormal, "Scheduled", "Successfully assigned default/web to node-1"
				e.InvolvedObject.FieldPath = ""
			}),
			want: []interface{}{"3m", "Normal", "Scheduled", "pod/web", "", "default-scheduler, scheduler-0",
				"Successfully assigned default/web to node-1", "3m", int64(1), "web.17a2b3c4d5e6f7a8"}},
		{name: "event series prints its last observation and count",
			event: tableEvent(func(e *corev1.Event) {
				e.FirstTimestamp, e.LastTimestamp = metav1.Time{}, metav1.Time{}
				e.EventTime = tableMicroAgo(time.Hour)
				e.Series = &corev1.EventSeries{Count: 12, LastObservedTime: tableMicroAgo(45 * time.Second)}
			}),
			want: []interface{}{"45s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1",
				"Back-off restarting failed container", "60m", int64(12), "web.17a2b3c4d5e6f7a8"}},
		{name: "event about an unnamed object prints just the kind, source without host just the component",
			event: tableEvent(func(e *corev1.Event) {
				e.InvolvedObject = corev1.ObjectReference{Kind: "Node"}
				e.Source = corev1.EventSource{Component: "controllermanager"}
			}),
			want: []interface{}{"30s", "Warning", "BackOff", "node", "", "controllermanager",
				"Back-off restarting failed container", "10m", int64(5), "web.17a2b3c4d5e6f7a8"}},
		{name: "event without any time prints <unknown>",
			event: tableEvent(func(e *corev1.Event) { e.FirstTimestamp, e.LastTimestamp = metav1.Time{}, metav1.Time{} }),
			want: []interface{}{"<unknown>", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1",
				"Back-off restarting failed container", "<unknown>", int64(5), "web.17a2b3c4d5e6f7a8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, eventRow(tt.event, tableNow()), tt.want)
		})
	}
}

func TestEventFields(t *testing.T) {
	want := fields.Set{
		"involvedObject.kind":            "Pod",
		"involvedObject.namespace":       "default",
		"involvedObject.name":            "web",
		"involvedObject.uid":             "uid-1",
		"involvedObject.apiVersion":      "v1",
		"involvedObject.resourceVersion": "42",
		"involvedObject.fieldPath":       "spec.containers{web}",
		"reason":                         "BackOff",
		"reportingComponent":             "",
		"source":                         "kubelet",
		"type":                           "Warning",
	}
	if got := eventFields(tableEvent()); got.String() != want.String() {
		t.Errorf("fields = %v\nwant %v", got, want)
	}
	reported := tableEvent(func(e *corev1.Event) { e.Source, e.ReportingController = corev1.EventSource{}, "default-scheduler" })
	got := eventFields(reported)
	if got["source"] != "default-scheduler" || got["reportingComponent"] != "default-scheduler" {
		t.Errorf("source, reportingComponent = %q, %q; want both default-scheduler", got["source"], got["reportingComponent"])
	}
}
