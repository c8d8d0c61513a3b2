package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// NodeUsage reads the resource usage of node and its pods from the node's agent, in-process
// for an embedded agent, otherwise from its HTTPS endpoint as metrics-server scrapes the
// kubelet (the agent token, the certificate pinned by the hash its Node publishes). It is what
// the API server's metrics.k8s.io kinds read.
func (p *LogProxy) NodeUsage(ctx context.Context, node *corev1.Node) (*metricsv1beta1.NodeMetrics, []metricsv1beta1.PodMetrics, error) {
	p.mu.RLock()
	local := p.local[node.Name]
	p.mu.RUnlock()
	if local != nil {
		u, err := local.ResourceUsage()
		if err != nil {
			return nil, nil, err
		}
		return &u.Node, u.Pods, nil
	}
	ip, port, pin := agentEndpoint(node)
	if ip == "" || port == 0 || pin == "" {
		return nil, nil, fmt.Errorf("agent: node %s serves no usage", node.Name)
	}
	u := url.URL{Scheme: "https", Host: net.JoinHostPort(ip, strconv.Itoa(int(port))), Path: "/stats/usage"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := pinnedClient(pin).Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: get usage from node %s: %w", node.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("agent: get usage from node %s: %s: %s", node.Name, resp.Status, msg)
	}
	var usage Usage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&usage); err != nil {
		return nil, nil, fmt.Errorf("agent: decode usage from node %s: %w", node.Name, err)
	}
	return &usage.Node, usage.Pods, nil
}
