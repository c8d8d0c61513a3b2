package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// NewServiceCommand returns `skiff service`, whose `list` subcommand prints the URLs each
// Service is reached at from this host, as `minikube service list` does.
func NewServiceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Show where Services are reached",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newServiceListCommand())
	return cmd
}

type serviceListOptions struct {
	kubeconfig string
	namespace  string
}

func newServiceListCommand() *cobra.Command {
	o := &serviceListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List Services with the URLs they are reached at",
		Long: `List Services with the URLs they are reached at: for each NodePort or LoadBalancer
Service port, http://<node IP>:<nodePort>, and the load balancer's address once it has one.

It reads the kubeconfig the way 'skiff kubectl' does: --kubeconfig, else $KUBECONFIG, else
~/.kube/config, and when none of these exists the kubeconfig in the default server data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			return o.run(ctx, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "List the Services of this namespace only (default: all namespaces)")
	return cmd
}

func (o *serviceListOptions) run(ctx context.Context, out io.Writer) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	if o.kubeconfig == "" {
		if path := fallbackKubeconfig(nil, os.Getenv, clientcmd.RecommendedHomeFile, defaultKubeconfig()); path != "" {
			rules.ExplicitPath = path
		}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("cli: load kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("cli: create client: %w", err)
	}
	svcs, err := client.CoreV1().Services(o.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cli: list services: %w", err)
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cli: list nodes: %w", err)
	}
	host := nodeAddress(nodes.Items, serverHost(cfg.Host))
	writeServiceTable(out, serviceRows(svcs.Items, host))
	return nil
}

// serviceRow is one line of the table; ports and urls may hold several lines.
type serviceRow struct {
	namespace, name string
	ports, urls     []string
}

// serviceRows lists each Service with the ports reachable from outside the cluster and their
// URLs on nodeHost, sorted by namespace and name. Services reachable only inside the cluster
// show "No node port", as minikube does.
func serviceRows(svcs []corev1.Service, nodeHost string) []serviceRow {
	var rows []serviceRow
	for _, svc := range svcs {
		r := serviceRow{namespace: svc.Namespace, name: svc.Name}
		external := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
		for _, p := range svc.Spec.Ports {
			if !external || p.NodePort == 0 {
				continue
			}
			r.ports = append(r.ports, portLabel(p))
			r.urls = append(r.urls, serviceURL(p, nodeHost, p.NodePort))
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				addr := ing.IP
				if addr == "" {
					addr = ing.Hostname
				}
				for _, p := range svc.Spec.Ports {
					r.ports = append(r.ports, portLabel(p))
					r.urls = append(r.urls, serviceURL(p, addr, p.Port))
				}
			}
		}
		if len(r.urls) == 0 {
			r.ports, r.urls = []string{"No node port"}, []string{""}
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b serviceRow) int {
		return strings.Compare(a.namespace+"/"+a.name, b.namespace+"/"+b.name)
	})
	return rows
}

// portLabel is a Service port as minikube shows it: "80", or "http/80" for a named port.
func portLabel(p corev1.ServicePort) string {
	if p.Name != "" {
		return p.Name + "/" + strconv.Itoa(int(p.Port))
	}
	return strconv.Itoa(int(p.Port))
}

// serviceURL is http://host:port, https for a port that says it speaks HTTPS, and
// <protocol>://host:port for UDP and SCTP ports.
func serviceURL(p corev1.ServicePort, host string, port int32) string {
	scheme := "http"
	switch {
	case p.Protocol == corev1.ProtocolUDP || p.Protocol == corev1.ProtocolSCTP:
		scheme = strings.ToLower(string(p.Protocol))
	case p.Name == "https" || p.AppProtocol != nil && *p.AppProtocol == "https" || p.Port == 443:
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// nodeAddress is where NodePorts are reached: the InternalIP of the Ready node whose name sorts
// first, else of any node, else fallback.
func nodeAddress(nodes []corev1.Node, fallback string) string {
	slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	internalIP := func(n corev1.Node) string {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address != "" {
				return a.Address
			}
		}
		return ""
	}
	for _, n := range nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				if ip := internalIP(n); ip != "" {
					return ip
				}
			}
		}
	}
	for _, n := range nodes {
		if ip := internalIP(n); ip != "" {
			return ip
		}
	}
	return fallback
}

// serverHost is the host of the API server URL, "127.0.0.1" when it cannot be read.
func serverHost(server string) string {
	if u, err := url.Parse(server); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "127.0.0.1"
}

// writeServiceTable prints rows in minikube's bordered table.
func writeServiceTable(w io.Writer, rows []serviceRow) {
	header := []string{"NAMESPACE", "NAME", "TARGET PORT", "URL"}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, cells := range [][]string{{r.namespace}, {r.name}, r.ports, r.urls} {
			for _, c := range cells {
				widths[i] = max(widths[i], len(c))
			}
		}
	}
	rule := "|"
	for _, wd := range widths {
		rule += strings.Repeat("-", wd+2) + "|"
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %-*s |", widths[i], c)
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintln(w, rule)
	line(header)
	fmt.Fprintln(w, rule)
	for _, r := range rows {
		for i := range max(len(r.ports), 1) {
			cells := []string{"", "", "", ""}
			if i == 0 {
				cells[0], cells[1] = r.namespace, r.name
			}
			if i < len(r.ports) {
				cells[2], cells[3] = r.ports[i], r.urls[i]
			}
			line(cells)
		}
	}
	fmt.Fprintln(w, rule)
}
