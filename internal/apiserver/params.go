package apiserver

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Query parameters, decoded as kube-apiserver decodes them: the options of writes through the
// meta/v1 conversions from url.Values registered on the server's scheme, then apimachinery's own
// validation of them (a value that does not parse is a 400, one that is not allowed a 422 naming
// it); the parameters of reads checked so that none is silently read as zero.

// optionsVersion is the group-version the scheme registers the meta/v1 options types and
// their url.Values conversions at.
var optionsVersion = schema.GroupVersion{Version: "v1"}

// decodeOptions decodes a request's query into opts (a *metav1.CreateOptions and the like).
func (s *Server) decodeOptions(q url.Values, opts runtime.Object) error {
	if err := s.params.DecodeParameters(q, optionsVersion, opts); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// optionsInvalid is the 422 of options that decode but are not allowed, e.g.
// `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]`.
func optionsInvalid(kind string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
}

// writeOpts are the options of one create, update or patch that the write pipeline acts on.
type writeOpts struct {
	dryRun bool
	// manager is who the managed fields record as the writer: the fieldManager parameter, or
	// the product of the request's user agent.
	manager string
	// force, for server-side apply, takes over the fields other managers own.
	force bool
	// applied says the object is the result of a server-side apply, whose field manager has
	// already recorded it.
	applied bool
}

// writeOptions decodes and validates the options of a create, update or patch (verb).
func (s *Server) writeOptions(r *http.Request, verb string) (writeOpts, error) {
	q := r.URL.Query()
	var dryRun []string
	var errs field.ErrorList
	var kind, manager string
	var force bool
	switch verb {
	case "create":
		opts := &metav1.CreateOptions{}
		if err := s.decodeOptions(q, opts); err != nil {
			return writeOpts{}, err
		}
		kind, dryRun, manager, errs = "CreateOptions", opts.DryRun, opts.FieldManager, metav1validation.ValidateCreateOptions(opts)
	case "patch":
		opts := &metav1.PatchOptions{}
		if err := s.decodeOptions(q, opts); err != nil {
			return writeOpts{}, err
		}
		pt := types.PatchType(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
		kind, dryRun, manager, errs = "PatchOptions", opts.DryRun, opts.FieldManager, metav1validation.ValidatePatchOptions(opts, pt)
		force = opts.Force != nil && *opts.Force
	default:
		opts := &metav1.UpdateOptions{}
		if err := s.decodeOptions(q, opts); err != nil {
			return writeOpts{}, err
		}
		kind, dryRun, manager, errs = "UpdateOptions", opts.DryRun, opts.FieldManager, metav1validation.ValidateUpdateOptions(opts)
	}
	if len(errs) > 0 {
		return writeOpts{}, optionsInvalid(kind, errs)
	}
	return writeOpts{dryRun: len(dryRun) > 0, manager: managerOrUserAgent(manager, r.UserAgent()), force: force}, nil
}

// intParams are the integer parameters of list and watch.
var intParams = []string{"limit", "timeoutSeconds"}

// checkReadParams checks the resourceVersion and integer parameters of a get, list or watch.
func checkReadParams(q url.Values) error {
	if rv := q.Get("resourceVersion"); rv != "" {
		if _, err := parseResourceVersion(rv); err != nil {
			return apierrors.NewBadRequest(field.Invalid(field.NewPath("resourceVersion"), rv, err.Error()).Error())
		}
	}
	for _, p := range intParams {
		if v := q.Get(p); v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return badRequest("invalid value for parameter %q: %v", p, err)
			}
		}
	}
	return nil
}

// boolParam reads a boolean parameter as apimachinery's url.Values conversion does: absent or
// empty is false, "false" and "0" (in any case) are false, anything else is true.
func boolParam(q url.Values, name string) bool {
	vals := q[name]
	if len(vals) == 0 || vals[0] == "" {
		return false
	}
	switch strings.ToLower(vals[0]) {
	case "false", "0":
		return false
	}
	return true
}
