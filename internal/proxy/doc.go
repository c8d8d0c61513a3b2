// Package proxy is skiff's service proxy: a userspace L4 proxy that every node agent runs. It
// watches Services and EndpointSlices, listens on each Service's ClusterIP:port, on
// NodeIP:nodePort for NodePort and LoadBalancer Services, on NodeIP:port for the LoadBalancer
// ingress it reports, and on external IPs, and hands each new TCP connection (or UDP flow) to a
// ready endpoint, round-robin or sticky per client IP. A refused connection is retried on the
// next endpoint, so a pod that has just stopped costs no request; connections already open run
// to their end when their endpoint leaves.
//
// For zero-downtime pod replacement, the node agent calls WaitUntilNotServing between marking a
// deleted pod unready and signalling its process: it returns once the pod is out of rotation and
// every connection sent to it has had its first answer.
//
// Proxy (proxy.go) is the component: informers, work queue, listener table. plan.go holds the
// pure functions from API objects to listen addresses and endpoint lists; balancer.go picks
// endpoints; tcp.go and udp.go move bytes; pending.go tracks unanswered connections;
// loadbalancer.go writes LoadBalancer ingress. Package servicevars builds the environment
// variables pods get for Services.
package proxy
