package apiserver

import (
	"net/url"
	"strconv"
)

// Query parameters of reads, checked as kube-apiserver's parameter decoding checks them: a
// value that does not parse is a 400 naming its parameter, never silently read as zero.

// intParams are the integer parameters of list and watch.
var intParams = []string{"limit", "timeoutSeconds"}

// boolParams are the boolean parameters of list and watch; like upstream they take every form
// strconv.ParseBool takes ("true", "True", "1", ...).
var boolParams = []string{"watch", "allowWatchBookmarks", "sendInitialEvents"}

// checkReadParams checks the resourceVersion, integer and boolean parameters of a get, list or
// watch.
func checkReadParams(q url.Values) error {
	if rv := q.Get("resourceVersion"); rv != "" {
		if _, err := parseResourceVersion(rv); err != nil {
			return badRequest("invalid value for parameter %q: %q: %v", "resourceVersion", rv, err)
		}
	}
	for _, p := range intParams {
		if v := q.Get(p); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				return badRequest("invalid value for parameter %q: %q: must be a non-negative integer", p, v)
			}
		}
	}
	for _, p := range boolParams {
		if _, err := boolParam(q, p); err != nil {
			return err
		}
	}
	return nil
}

// boolParam reads a boolean parameter: false when absent, a 400 naming it when it does not parse.
func boolParam(q url.Values, name string) (bool, error) {
	vals := q[name]
	if len(vals) == 0 || vals[0] == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(vals[0])
	if err != nil {
		return false, badRequest("invalid value for parameter %q: %q: %v", name, vals[0], err)
	}
	return b, nil
}
