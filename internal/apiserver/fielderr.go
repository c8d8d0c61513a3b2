package apiserver

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// fieldErr builds a one-error list for a dotted field path.
func fieldErr(path string, value interface{}, msg string) field.ErrorList {
	parts := strings.Split(path, ".")
	return field.ErrorList{field.Invalid(field.NewPath(parts[0], parts[1:]...), value, msg)}
}

func typesPatch(pt string) types.PatchType { return types.PatchType(pt) }

func metaOf(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err) // every served kind has ObjectMeta
	}
	return m
}
