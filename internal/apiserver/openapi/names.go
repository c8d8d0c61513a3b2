package openapi

import (
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// How paths, operation ids and tags are spelled, following upstream's conventions.

// gvPrefix is the URL prefix of a group-version: /api/v1 or /apis/<group>/<version>.
func gvPrefix(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// indexKey is a group-version's key in the /openapi/v3 index: api/v1 or apis/<group>/<version>.
func indexKey(gv schema.GroupVersion) string {
	return strings.TrimPrefix(gvPrefix(gv), "/")
}

// groupVersionID is the group-version part of operation ids: CoreV1, AppsV1beta1, DiscoveryV1.
func groupVersionID(gv schema.GroupVersion) string {
	return camel(groupName(gv), true) + camel(gv.Version, true)
}

// groupVersionTag is the operation tag: core_v1, apps_v1, rbacAuthorization_v1.
func groupVersionTag(gv schema.GroupVersion) string {
	return camel(groupName(gv), false) + "_" + camel(gv.Version, false)
}

func groupName(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "core"
	}
	return strings.TrimSuffix(gv.Group, ".k8s.io")
}

// camel camel-cases s: letters and digits are kept, anything else starts a new capitalised word
// ("rbac.authorization" -> "rbacAuthorization", or "RbacAuthorization" with upperFirst).
func camel(s string, upperFirst bool) string {
	var b strings.Builder
	upper := upperFirst
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lowerFirst builds an operation id from a verb-led name and the group-version id:
// ("listNamespacedDeployment", "AppsV1") -> "listAppsV1NamespacedDeployment".
func lowerFirst(op, gvID string) string {
	i := strings.IndexFunc(op, unicode.IsUpper)
	if i < 0 {
		return op + gvID
	}
	return op[:i] + gvID + op[i:]
}
