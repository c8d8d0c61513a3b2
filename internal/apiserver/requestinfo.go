package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a resource request's path and method say, as kube-apiserver parses them.
type requestInfo struct {
	IsResource  bool
	Verb        string // get list watch create update patch delete deletecollection
	APIPrefix   string // "api" or "apis"
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Name        string
	Subresource string
	Rest        string // the path after a proxy subresource ("" or "/...")
	Parts       []string
}

// parseRequestInfo parses r's path. Non-resource paths (/api, /apis/apps, /version...) come back
// with IsResource false and Parts set.
func parseRequestInfo(r *http.Request) requestInfo {
	path := strings.Trim(r.URL.Path, "/")
	parts := splitPath(path)
	info := requestInfo{Parts: parts}
	if len(parts) == 0 {
		return info
	}
	switch parts[0] {
	case "api":
		if len(parts) < 3 {
			return info
		}
		info.APIPrefix, info.Version, parts = "api", parts[1], parts[2:]
	case "apis":
		if len(parts) < 4 {
			return info
		}
		info.APIPrefix, info.Group, info.Version, parts = "apis", parts[1], parts[2], parts[3:]
	default:
		return info
	}
	info.IsResource = true
	watchPrefix := false
	if parts[0] == "watch" {
		watchPrefix = true
		parts = parts[1:]
		if len(parts) == 0 {
			info.IsResource = false
			return info
		}
	}
	// namespaces/{ns}/{resource}... but namespaces/{name}[/status|finalize] is the namespace itself.
	if parts[0] == namespacesSegment && len(parts) >= 3 && parts[2] != "status" && parts[2] != "finalize" {
		info.Namespace = parts[1]
		parts = parts[2:]
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	if len(parts) > 3 {
		info.Rest = "/" + strings.Join(parts[3:], "/")
	}
	if info.Subresource == "proxy" && strings.HasSuffix(r.URL.Path, "/") && info.Rest != "" {
		info.Rest += "/"
	} else if info.Subresource == "proxy" && info.Rest == "" && strings.HasSuffix(r.URL.Path, "/") {
		info.Rest = "/"
	}

	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watchPrefix:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
			if boolParam(q, "watch") {
				info.Verb = "watch"
			}
		default:
			info.Verb = "get"
			if boolParam(q, "watch") && info.Subresource == "" {
				info.Verb = "watch"
			}
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		info.Verb = "delete"
		if info.Name == "" {
			info.Verb = "deletecollection"
		}
	default:
		info.Verb = strings.ToLower(r.Method)
	}
	return info
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// namespacesSegment is the path segment that scopes a resource path to a namespace. It is part
// of the API's URL grammar, as in upstream's RequestInfoFactory, not knowledge of a kind.
const namespacesSegment = "namespaces"
