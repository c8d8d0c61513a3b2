package registry

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// tableNow is the fixed "now" every printing test prints at.
func tableNow() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// tableAgo is a timestamp d before tableNow.
func tableAgo(d time.Duration) metav1.Time { return metav1.NewTime(tableNow().Add(-d)) }

// tableMicroAgo is a MicroTime d before tableNow.
func tableMicroAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(tableNow().Add(-d)) }

// checkCells fails t unless got equals want cell for cell.
func checkCells(t *testing.T, got, want []interface{}) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row mismatch\n got: %#v\nwant: %#v", got, want)
	}
}

func TestEveryServedResourceHasItsOwnPrinter(t *testing.T) {
	for _, r := range All() {
		if r.Review != nil {
			continue // reviews are only created, never listed
		}
		t.Run(r.GVR.String(), func(t *testing.T) {
			if r.Row == nil || len(r.Columns) == 0 {
				t.Fatalf("no printer attached")
			}
			if reflect.DeepEqual(r.Columns, defaultPrinter().columns) {
				t.Errorf("falls back to the default table")
			}
			if cells := r.Row(r.New()); len(cells) != len(r.Columns) {
				t.Errorf("empty object prints %d cells for %d columns: %#v", len(cells), len(r.Columns), cells)
			}
			names := 0
			for _, c := range r.Columns {
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
				if c.Format == "name" {
					names++
				}
			}
			if names != 1 {
				t.Errorf("%d columns have format name, want 1", names)
			}
		})
	}
}

func TestRowOfAnotherTypePrintsNothing(t *testing.T) {
	if cells := podPrinter().row(&corev1.Node{}, tableNow()); cells != nil {
		t.Errorf("pod printer printed a node: %#v", cells)
	}
	if f := podPrinter().fields(&corev1.Node{}); f != nil {
		t.Errorf("pod fields of a node: %v", f)
	}
}

func TestDefaultPrinterPrintsNameAndCreationTime(t *testing.T) {
	r := Kind[*corev1.ConfigMap]{
		GVR:  schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"},
		Kind: "Widget", New: func() *corev1.ConfigMap { return &corev1.ConfigMap{} },
	}.Resource()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w", CreationTimestamp: tableAgo(time.Hour)}}
	checkCells(t, r.Row(cm), []interface{}{"w", "2025-06-01T11:00:00Z"})
	if got := r.Columns[1]; got.Name != "Created At" || got.Type != "date" {
		t.Errorf("second column = %+v, want Created At of type date", got)
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		name string
		at   metav1.Time
		want string
	}{
		{name: "zero timestamp prints <unknown>", at: metav1.Time{}, want: "<unknown>"},
		{name: "under two minutes prints seconds", at: tableAgo(90 * time.Second), want: "90s"},
		{name: "minutes and seconds under ten minutes", at: tableAgo(5*time.Minute + 7*time.Second), want: "5m7s"},
		{name: "whole minutes under three hours", at: tableAgo(150 * time.Minute), want: "150m"},
		{name: "days and hours under eight days", at: tableAgo(75 * time.Hour), want: "3d3h"},
		{name: "a little in the future prints 0s", at: tableAgo(-time.Second), want: "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := age(tt.at, tableNow()); got != tt.want {
				t.Errorf("age = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWithPrintingRowUsesTheClock(t *testing.T) {
	r := namespaceKind().Resource()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default",
		CreationTimestamp: metav1.NewTime(time.Now().Add(-3 * time.Minute))}}
	if got := r.Row(ns)[2]; got != "3m" {
		t.Errorf("AGE = %v, want 3m", got)
	}
}
