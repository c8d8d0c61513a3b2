package apiserver

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func hasSubresource(sv *served, sub string) bool {
	for _, s := range subresourcesOf(sv) {
		if s == sub {
			return true
		}
	}
	return false
}

// serveSubresource handles status, scale, binding, finalize, eviction, log and proxy.
func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) {
	sub := info.Subresource
	if !hasSubresource(sv, sub) || info.Name == "" {
		s.writeError(w, r, apierrors.NewNotFound(sv.cache.gr, info.Name+"/"+sub))
		return
	}
	var err error
	switch sub {
	case "status":
		err = s.handleStatus(w, r, info, sv)
	case "scale":
		err = s.handleScale(w, r, info, sv)
	case "binding":
		err = s.handleBinding(w, r, info, sv)
	case "finalize":
		err = s.handleFinalize(w, r, info, sv)
	case "eviction":
		err = s.handleEviction(w, r, info, sv)
	case "log":
		err = s.handleLog(w, r, info, sv)
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
		out, err := s.patchObject(w, r, info, sv, modeStatus)
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
		dryRun, err := isDryRun(r)
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
			pt = string(t)
		}
		out, err := s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name, updateOpts{mode: modeMain, dryRun: dryRun, retry: true}, func(cur runtime.Object) (runtime.Object, error) {
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

// handleBinding assigns a pod to a node (pods/binding), as the scheduler does.
func (s *Server) handleBinding(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	if info.Verb != "create" {
		return apierrors.NewMethodNotSupported(schemaGR("", "pods/binding"), r.Method)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var b corev1.Binding
	rinfo, ok := s.requestSerializer(r)
	if !ok {
		return unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	if _, _, err := rinfo.Serializer.Decode(body, nil, &b); err != nil {
		return badRequest("decoding Binding: %v", err)
	}
	if b.Target.Name == "" {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name, fieldErr("target.name", "", "must not be empty"))
	}
	_, err = s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name, updateOpts{mode: modeRaw, retry: true}, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(sv.cache.gr, pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(sv.cache.gr, pod.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(sv.cache.gr, pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		return pod, nil
	})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
	return nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			if pod.Status.Conditions[i].Status != c.Status {
				pod.Status.Conditions[i] = c
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// handleFinalize updates a namespace's spec.finalizers (namespaces/finalize).
func (s *Server) handleFinalize(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	if info.Verb != "update" {
		return apierrors.NewMethodNotSupported(schemaGR("", "namespaces/finalize"), r.Method)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := s.decodeInto(w, r, body, nil, sv.gv.WithKind(sv.res.Kind))
	if err != nil {
		return err
	}
	want := in.(*corev1.Namespace).Spec.Finalizers
	out, err := s.guaranteedUpdate(r.Context(), sv, "", info.Name, updateOpts{mode: modeRaw, retry: true}, func(cur runtime.Object) (runtime.Object, error) {
		ns := cur.(*corev1.Namespace)
		ns.Spec.Finalizers = want
		return ns, nil
	})
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, sv, out)
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
	pod := obj.(*corev1.Pod)
	if s.cfg.PodLogs != nil {
		return s.cfg.PodLogs(w, r, pod)
	}
	return badRequest("logs of pod %q are not available: its node %q serves no logs", pod.Name, pod.Spec.NodeName)
}

// handleProxy proxies HTTP to a pod's port (pods/NAME[:PORT]/proxy/PATH) or to a ready endpoint
// of a Service (services/NAME[:PORT]/proxy/PATH).
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
	var host string
	switch o := obj.(type) {
	case *corev1.Pod:
		if o.Status.PodIP == "" {
			return apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP yet", name))
		}
		p, err := resolvePodPort(o, port)
		if err != nil {
			return err
		}
		host = net.JoinHostPort(o.Status.PodIP, strconv.Itoa(p))
	case *corev1.Service:
		h, err := s.serviceBackend(r, o, port)
		if err != nil {
			return err
		}
		host = h
	default:
		return apierrors.NewNotFound(sv.cache.gr, name+"/proxy")
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

func resolvePodPort(pod *corev1.Pod, port string) (int, error) {
	if port == "" {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				return int(p.ContainerPort), nil
			}
		}
		return 80, nil
	}
	if n, err := strconv.Atoi(port); err == nil {
		return n, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, badRequest("pod %s has no port named %q", pod.Name, port)
}

// serviceBackend picks a ready endpoint of svc for port (a port name or number; "" = first).
func (s *Server) serviceBackend(r *http.Request, svc *corev1.Service, port string) (string, error) {
	epCache := s.caches.byGR["endpoints"]
	if epCache == nil {
		return "", apierrors.NewServiceUnavailable("no endpoints")
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if port == "" || p.Name == port || strconv.Itoa(int(p.Port)) == port {
			sp = p
			break
		}
	}
	if sp == nil {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %q found for service %q", port, svc.Name))
	}
	obj, ok := epCache.get(svc.Namespace, svc.Name)
	if !ok {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
	}
	ep := obj.(*corev1.Endpoints)
	for _, subset := range ep.Subsets {
		for _, p := range subset.Ports {
			if p.Name != sp.Name || len(subset.Addresses) == 0 {
				continue
			}
			a := subset.Addresses[int(rvOf(ep))%len(subset.Addresses)]
			return net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))), nil
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
}
