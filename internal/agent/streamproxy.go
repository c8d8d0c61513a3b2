package agent

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/proxy"
)

// ServePodStream is apiserver.Config.PodStream: it serves pods/exec, pods/attach and
// pods/portforward as kube-apiserver's pod storage does. The options are checked and the pod's
// container chosen here (upstream's messages); the upgrade request then goes to the agent
// running the pod: in-process for the server's embedded agent, otherwise through
// apimachinery's UpgradeAwareHandler over HTTPS, authenticated with the agent token and the
// agent's certificate pinned by the hash its Node publishes. The agent speaks every protocol
// kubectl does (SPDY, WebSocket v1-v5, port forwarding tunnelled over WebSocket), as a kubelet
// with ExtendWebSocketsToKubelet does, so the API server only proxies.
func (p *LogProxy) ServePodStream(w http.ResponseWriter, r *http.Request, pod *corev1.Pod, subresource string) error {
	q := r.URL.Query()
	params := url.Values{}
	target := StreamTarget{Namespace: pod.Namespace, Pod: pod.Name}
	switch subresource {
	case "exec", "attach":
		target.Kind = subresource
		// the API's option names, and the kubelet's parameters for them
		for name, param := range map[string]string{"stdin": corev1.ExecStdinParam, "stdout": corev1.ExecStdoutParam,
			"stderr": corev1.ExecStderrParam, "tty": corev1.ExecTTYParam} {
			on, err := queryBool(q, name)
			if err != nil {
				return apierrors.NewBadRequest(err.Error())
			}
			if on {
				params.Set(param, "1")
			}
		}
		container, err := streamContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		target.Container = container
		if subresource == "exec" {
			params[corev1.ExecCommandParam] = q["command"]
		}
	case "portforward":
		target.Kind = "portForward"
		var ports []string
		for _, v := range q["ports"] {
			for _, s := range strings.Split(v, ",") {
				n, err := strconv.ParseInt(s, 10, 32)
				if err != nil {
					return apierrors.NewBadRequest(fmt.Sprintf("ports: %q is not a port number", s))
				}
				ports = append(ports, strconv.FormatInt(n, 10))
			}
		}
		if len(ports) > 0 {
			params.Set(corev1.PortHeader, strings.Join(ports, ","))
		}
	default:
		return apierrors.NewNotFound(corev1.Resource("pods"), pod.Name+"/"+subresource)
	}
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	params.Set("podUID", string(pod.UID))
	target.UID = pod.UID

	p.mu.RLock()
	local, client := p.local[pod.Spec.NodeName], p.client
	p.mu.RUnlock()
	out := r.Clone(r.Context())
	out.URL.RawQuery = params.Encode()
	out.Form, out.PostForm = nil, nil // parsed again from the new query
	out.Header.Del("Authorization")   // the user's credentials stay here
	if local != nil {
		local.ServeStream(w, out, target)
		return nil
	}
	if client == nil {
		return apierrors.NewServiceUnavailable("node agents are not reachable yet")
	}
	node, err := client.CoreV1().Nodes().Get(r.Context(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ip, port, pin := agentEndpoint(node)
	if ip == "" || port == 0 || pin == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("node %q serves no streams", node.Name))
	}
	path := "/" + target.Kind + "/" + pod.Namespace + "/" + pod.Name
	if target.Container != "" {
		path += "/" + target.Container
	}
	loc := &url.URL{Scheme: "https", Host: net.JoinHostPort(ip, strconv.Itoa(int(port))), Path: path, RawQuery: out.URL.RawQuery}
	out.Header.Set("Authorization", "Bearer "+p.token)
	h := proxy.NewUpgradeAwareHandler(loc, pinnedClient(pin).Transport, false, true, statusResponder{})
	h.ServeHTTP(w, out)
	return nil
}

// agentEndpoint is where node's agent serves, and the hash of its certificate.
func agentEndpoint(node *corev1.Node) (ip string, port int32, pin string) {
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	return ip, node.Status.DaemonEndpoints.KubeletEndpoint.Port, node.Annotations[AnnotationServingCertHash]
}

// streamContainer is upstream's validateContainer for exec and attach: the container named
// (any of the pod's, init containers included), else the pod's only one.
func streamContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		var names []string
		for _, c := range pod.Spec.InitContainers {
			names = append(names, c.Name)
		}
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, names))
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name == name {
				return name, nil
			}
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// queryBool reads a boolean query parameter as the API's parameter codec does.
func queryBool(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean", name, v)
	}
	return b, nil
}

// statusResponder writes a proxy error as the API's Status, as kube-apiserver's responder does.
type statusResponder struct{}

func (statusResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	st := apierrors.NewInternalError(fmt.Errorf("error dialing backend: %w", err)).Status()
	if se, ok := err.(apierrors.APIStatus); ok {
		st = se.Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	body, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	w.Write(body)
}
