package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// LogProxy serves the API server's pods/log subresource: it validates kubectl's options and
// hands the request to the agent running the pod, in-process for the server's embedded agent,
// over HTTPS otherwise (authenticated with the agent token, the agent's certificate pinned by the
// hash its Node publishes).
type LogProxy struct {
	token string

	mu     sync.RWMutex // guards the fields below
	client kubernetes.Interface
	local  map[string]*Agent // embedded agents by node name
}

// NewLogProxy returns a proxy that authenticates to agents with agentToken. It answers
// "unavailable" until SetClient is called.
func NewLogProxy(agentToken string) *LogProxy {
	return &LogProxy{token: agentToken, local: map[string]*Agent{}}
}

// SetClient gives the proxy the client it reads Nodes with.
func (p *LogProxy) SetClient(c kubernetes.Interface) {
	p.mu.Lock()
	p.client = c
	p.mu.Unlock()
}

// AddLocal registers an in-process agent: logs of its node's pods are served directly.
func (p *LogProxy) AddLocal(a *Agent) {
	p.mu.Lock()
	p.local[a.opts.NodeName] = a
	p.mu.Unlock()
}

// ServePodLogs is apiserver.Config.PodLogs.
func (p *LogProxy) ServePodLogs(w http.ResponseWriter, r *http.Request, pod *corev1.Pod) error {
	opts, err := parseLogOptions(r.URL.Query())
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	container, err := logContainer(pod, opts.Container)
	if err != nil {
		return err
	}
	opts.Container = container
	if opts.TailLines != nil && *opts.TailLines < 0 {
		return apierrors.NewBadRequest("tailLines: must be greater than or equal to 0")
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		return apierrors.NewBadRequest("limitBytes: must be greater than 0")
	}
	if opts.SinceSeconds != nil && opts.SinceTime != nil {
		return apierrors.NewBadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}

	p.mu.RLock()
	local, client := p.local[pod.Spec.NodeName], p.client
	p.mu.RUnlock()
	if local != nil {
		return local.ServeContainerLogs(w, r, pod.UID, container, opts)
	}
	if client == nil {
		return apierrors.NewServiceUnavailable("node agents are not reachable yet")
	}
	node, err := client.CoreV1().Nodes().Get(r.Context(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return p.proxy(w, r, node, pod, opts)
}

// logContainer picks the container: the one named, else the only one.
func logContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names))
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

func (p *LogProxy) proxy(w http.ResponseWriter, r *http.Request, node *corev1.Node, pod *corev1.Pod, opts *corev1.PodLogOptions) error {
	ip, port, pin := agentEndpoint(node)
	if ip == "" || port == 0 || pin == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("logs of pod %q are not available: node %q serves no logs", pod.Name, node.Name))
	}
	q := encodeLogOptions(opts)
	q.Set("podUID", string(pod.UID))
	u := url.URL{Scheme: "https", Host: net.JoinHostPort(ip, strconv.Itoa(int(port))),
		Path: "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + opts.Container, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := pinnedClient(pin).Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return apierrors.NewServiceUnavailable(fmt.Sprintf("get logs from node %s: %v", node.Name, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return apierrors.NewGenericServerResponse(resp.StatusCode, "get", corev1.Resource("pods/log"), pod.Name, string(msg), 0, false)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	fw := flushWriter{w}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			fw.Flush()
		}
		if err != nil {
			return nil
		}
	}
}

// pinnedClient trusts exactly the certificate whose DER SHA-256 is pin.
func pinnedClient(pin string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // replaced by the pin check below
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 {
					return errors.New("agent: no certificate from node agent")
				}
				sum := sha256.Sum256(raw[0])
				if hex.EncodeToString(sum[:]) != pin {
					return errors.New("agent: node agent's certificate does not match its Node's " + AnnotationServingCertHash)
				}
				return nil
			},
		},
	}}
}
