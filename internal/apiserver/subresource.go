package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-dev/skiff/internal/registry"
)

func hasSubresource(sv *served, sub string) bool {
	for _, s := range subresourcesOf(sv) {
		if s == sub {
			return true
		}
	}
	return false
}

// serveSubresource handles status, scale, eviction, log and proxy, and the kind's actions
// (binding, finalize).
func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) {
	sub := info.Subresource
	if !hasSubresource(sv, sub) || info.Name == "" {
		s.writeError(w, r, apierrors.NewNotFound(sv.cache.gr, info.Name+"/"+sub))
		return
	}
	if act, ok := sv.res.Actions[sub]; ok {
		if err := s.handleAction(w, r, info, sv, act); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	var err error
	switch sub {
	case "status":
		err = s.handleStatus(w, r, info, sv)
	case "scale":
		err = s.handleScale(w, r, info, sv)
	case "eviction":
		err = s.handleEviction(w, r, info, sv)
	case "log":
		err = s.handleLog(w, r, info, sv)
	case "exec", "attach", "portforward":
		err = s.handleStream(w, r, info, sv)
	case "proxy":
		err = s.handleProxy(w, r, info, sv)
	default:
		err = apierrors.NewNotFound(sv.cache.gr, info.Name+"/"+sub)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	switch info.Verb {
	case "get":
		return s.handleGet(w, r, info, sv)
	case "update":
		return s.replaceObject(w, r, info, sv, modeStatus)
	case "patch":
		out, _, err := s.patchObject(w, r, info, sv, modeStatus)
		if err != nil {
			return err
		}
		return s.writeObject(w, r, http.StatusOK, sv, out)
	}
	return apierrors.NewMethodNotSupported(sv.cache.gr, r.Method)
}

// handleScale serves the autoscaling/v1 Scale view of deployments, replicasets and RCs.
func (s *Server) handleScale(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	res := sv.res
	scaleGR := schema.GroupResource{Group: res.GVR.Group, Resource: res.GVR.Resource + "/scale"}
	writeScale := func(code int, obj runtime.Object) error {
		sc := res.GetScale(obj)
		choice, ok := s.negotiate(r, false)
		if !ok {
			return notAcceptable(r.Header.Get("Accept"))
		}
		return s.encode(w, choice, code, sc)
	}
	switch info.Verb {
	case "get":
		obj, err := s.getCurrent(r.Context(), sv, info.Namespace, info.Name)
		if err != nil {
			return err
		}
		return writeScale(http.StatusOK, obj)
	case "update", "patch":
		wo, err := s.writeOptions(r, info.Verb)
		if err != nil {
			return err
		}
		body, err := readBody(r)
		if err != nil {
			return err
		}
		var pt = ""
		if info.Verb == "patch" {
			t, err := patchType(r)
			if err != nil {
				return err
			}
			if t == types.ApplyYAMLPatchType {
				// upstream applies to a Scale through a scale handler of the parent's managed
				// fields; skiff does not serve that
				return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", scaleGR, info.Name,
					"server-side apply of the scale subresource is not supported", 0, false)
			}
			pt = string(t)
		}
		out, err := s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name, updateOpts{mode: modeMain, retry: true, subresource: "scale"}.with(wo), func(cur runtime.Object) (runtime.Object, error) {
			curScale := res.GetScale(cur)
			var want autoscalingv1.Scale
			if pt == "" {
				rinfo, ok := s.requestSerializer(r)
				if !ok {
					return nil, unsupportedMediaType(r.Header.Get("Content-Type"))
				}
				if _, _, err := rinfo.Serializer.Decode(body, nil, &want); err != nil {
					return nil, badRequest("decoding Scale: %v", err)
				}
				if want.ResourceVersion != "" && want.ResourceVersion != curScale.ResourceVersion {
					return nil, apierrors.NewConflict(scaleGR, info.Name, fmt.Errorf("%s", optimisticLockMsg))
				}
			} else {
				curJSON, _ := json.Marshal(curScale)
				newJSON, err := applyPatch(typesPatch(pt), curJSON, body, &autoscalingv1.Scale{})
				if err != nil {
					return nil, err
				}
				if err := json.Unmarshal(newJSON, &want); err != nil {
					return nil, badRequest("decoding patched Scale: %v", err)
				}
			}
			if want.Spec.Replicas < 0 {
				return nil, apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, info.Name,
					fieldErr("spec.replicas", want.Spec.Replicas, "must be greater than or equal to 0"))
			}
			res.SetReplicas(cur, want.Spec.Replicas)
			return cur, nil
		})
		if err != nil {
			return err
		}
		return writeScale(http.StatusOK, out)
	}
	return apierrors.NewMethodNotSupported(scaleGR, r.Method)
}

// handleAction serves a subresource that changes the stored object from a request body
// (pods/binding, namespaces/finalize), as the kind's Action says. It runs no update rules:
// upstream serves these through storage of their own, beside the kind's strategy.
func (s *Server) handleAction(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served, act registry.Action) error {
	gr := schema.GroupResource{Group: sv.res.GVR.Group, Resource: sv.res.GVR.Resource + "/" + info.Subresource}
	if info.Verb != act.Verb {
		return apierrors.NewMethodNotSupported(gr, r.Method)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rinfo, ok := s.requestSerializer(r)
	if !ok {
		return unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	req := act.New()
	if _, _, err := rinfo.Serializer.Decode(body, nil, req); err != nil {
		return badRequest("decoding %s: %v", reflectKind(req), err)
	}
	out, err := s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name, updateOpts{mode: modeRaw, retry: true}, func(cur runtime.Object) (runtime.Object, error) {
		if err := act.Apply(cur, req); err != nil {
			return nil, err
		}
		return cur, nil
	})
	if err != nil {
		return err
	}
	if act.ReplyStatus {
		s.writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
		return nil
	}
	return s.writeObject(w, r, http.StatusOK, sv, out)
}

// reflectKind names a request body's type for error messages ("Binding").
func reflectKind(obj runtime.Object) string {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// handleEviction deletes a pod through the eviction subresource (no disruption budgets here).
func (s *Server) handleEviction(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	if info.Verb != "create" {
		return apierrors.NewMethodNotSupported(schemaGR("", "pods/eviction"), r.Method)
	}
	if _, err := readBody(r); err != nil {
		return err
	}
	if _, _, err := s.delete(r.Context(), sv, info.Namespace, info.Name, &metav1.DeleteOptions{}); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
	return nil
}

// handleLog answers pods/log. Until a node agent serves logs, it says so.
func (s *Server) handleLog(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	obj, err := s.getCurrent(r.Context(), sv, info.Namespace, info.Name)
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return apierrors.NewNotFound(sv.cache.gr, info.Name+"/log")
	}
	if s.cfg.PodLogs != nil {
		return s.cfg.PodLogs(w, r, pod)
	}
	return badRequest("logs of pod %q are not available: its node %q serves no logs", pod.Name, pod.Spec.NodeName)
}

// handleStream answers pods/exec, pods/attach and pods/portforward, upgrade requests (GET or
// POST) that the pod's node agent serves.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	gr := schemaGR("", "pods/"+info.Subresource)
	if info.Verb != "get" && info.Verb != "create" {
		return apierrors.NewMethodNotSupported(gr, r.Method)
	}
	obj, err := s.getCurrent(r.Context(), sv, info.Namespace, info.Name)
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return apierrors.NewNotFound(sv.cache.gr, info.Name+"/"+info.Subresource)
	}
	if s.cfg.PodStream == nil {
		return badRequest("pod %q cannot be reached: its node %q serves no streams", pod.Name, pod.Spec.NodeName)
	}
	return s.cfg.PodStream(w, r, pod, info.Subresource)
}

// handleProxy proxies HTTP to where the kind says NAME[:PORT]/proxy/PATH goes: a pod's port,
// or a ready endpoint of a Service.
func (s *Server) handleProxy(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	name, port, _ := strings.Cut(info.Name, ":")
	if strings.Count(info.Name, ":") == 2 { // scheme:name:port
		parts := strings.Split(info.Name, ":")
		name, port = parts[1], parts[2]
	}
	obj, err := s.getCurrent(r.Context(), sv, info.Namespace, name)
	if err != nil {
		return err
	}
	if sv.res.ProxyTarget == nil {
		return apierrors.NewNotFound(sv.cache.gr, name+"/proxy")
	}
	host, err := sv.res.ProxyTarget(obj, port, s.getStored)
	if err != nil {
		return err
	}
	target := &url.URL{Scheme: "http", Host: host}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = info.Rest
			if pr.Out.URL.Path == "" {
				pr.Out.URL.Path = "/"
			}
			pr.Out.URL.RawPath = ""
			pr.Out.Header.Del("Authorization")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach %s: %v", host, err)))
		},
	}
	rp.ServeHTTP(w, r)
	return nil
}

// getStored reads a cached object of any served resource, for kinds whose subresources follow
// references.
func (s *Server) getStored(gr schema.GroupResource, namespace, name string) (runtime.Object, bool) {
	c := s.caches.byGR[gr.String()]
	if c == nil {
		return nil, false
	}
	return c.get(namespace, name)
}
