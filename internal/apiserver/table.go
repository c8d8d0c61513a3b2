package apiserver

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// toTable renders items as a meta.k8s.io Table with the resource's columns. Rows carry the
// object's metadata (includeObject=Metadata, the default), the whole object (Object) or nothing
// (None), so kubectl's --show-labels, -L and -A work.
func (s *Server) toTable(r *http.Request, sv *served, items []runtime.Object, lm metav1.ListMeta, gv string) *metav1.Table {
	t := &metav1.Table{ListMeta: lm, ColumnDefinitions: sv.res.Columns}
	t.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/" + gv, Kind: "Table"}
	include := r.URL.Query().Get("includeObject")
	t.Rows = make([]metav1.TableRow, 0, len(items))
	for _, it := range items {
		t.Rows = append(t.Rows, s.tableRow(sv, it, include))
	}
	return t
}

func (s *Server) tableRow(sv *served, obj runtime.Object, include string) metav1.TableRow {
	var cells []interface{}
	if sv.res.Row != nil {
		cells = sv.res.Row(obj)
	}
	row := metav1.TableRow{Cells: cells}
	switch include {
	case "None":
	case "Object":
		out := obj
		if sv.alt != nil {
			if conv, err := sv.alt.FromStorage(obj); err == nil {
				out = conv
			}
		}
		row.Object = runtime.RawExtension{Object: out}
	default:
		row.Object = runtime.RawExtension{Object: partialObject(obj, "v1")}
	}
	return row
}
