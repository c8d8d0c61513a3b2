package testimages

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// Command is the hidden skiff subcommand the built-in test images run:
// `skiff test-image IMAGE ARGV0 [ARG...]`, where ARGV0 is the program's path inside the image
// (what the container's command named, e.g. /agnhost) and the ARGs are the container's.
const Command = "test-image"

// Proc is what a stand-in sees of its process: how it was called, its environment and output,
// and how it ends. Main fills it from the OS; tests supply their own.
type Proc struct {
	Argv0  string // the program as the container named it, e.g. "/agnhost"
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	Exit   func(code int)
	// Notify delivers the given signals from then on, as signal.Notify does.
	Notify func(sig ...os.Signal) <-chan os.Signal

	args []string // the arguments after argv0, set by Run
}

// Main runs the stand-in for image with the container's argv0 and args and returns its exit code.
func Main(image, argv0 string, args []string) int {
	p := &Proc{Argv0: argv0, Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr, Exit: os.Exit,
		Notify: func(sig ...os.Signal) <-chan os.Signal {
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, sig...)
			return ch
		}}
	return p.Run(context.Background(), image, args)
}

// Run runs the stand-in for image with args and returns its exit code.
func (p *Proc) Run(ctx context.Context, image string, args []string) int {
	p.args = args
	var err error
	switch image {
	case "agnhost":
		cmd := p.agnhost(ctx)
		cmd.SetArgs(args)
		err = cmd.Execute()
	case "httpd":
		err = p.serveStatic(ctx, httpdSite)
	case "nginx":
		err = p.serveStatic(ctx, nginxSite)
	case "pause":
		p.pauseContainer()
	default:
		err = fmt.Errorf("unknown test image %q", image)
	}
	if err != nil {
		fmt.Fprintf(p.Stderr, "%s: %v\n", p.Argv0, err)
		return 1
	}
	return 0
}

// logger is the standard library's logger on the process's stderr, as upstream's images log.
func (p *Proc) logger() *log.Logger { return log.New(p.Stderr, "", log.LstdFlags) }

// fatalf logs and exits 1, as log.Fatalf does.
func (p *Proc) fatalf(format string, a ...any) {
	p.logger().Printf(format, a...)
	p.Exit(1)
}

// hostname is the pod's host name: the container's HOSTNAME, as a container's own hostname is.
func (p *Proc) hostname() string {
	if h := p.Getenv("HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// listenAddr is where a server of port listens: the pod's IP, where upstream's images listen on
// every address of their own network namespace. Pods share the host's network here, so
// listening on all addresses would take the port from every other pod.
func (p *Proc) listenAddr(port int) string {
	return net.JoinHostPort(p.Getenv("POD_IP"), strconv.Itoa(port))
}

// listen opens a TCP listener on the pod's IP; for a port below 1024 without the privilege
// to bind it, the error says so.
func (p *Proc) listen(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", p.listenAddr(port))
	if err != nil && port < 1024 && os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w (port %d is privileged: run the node agent as root or with CAP_NET_BIND_SERVICE)", err, port)
	}
	return ln, err
}

// terminated is closed when SIGTERM arrives.
func (p *Proc) terminated() <-chan struct{} {
	ch := p.Notify(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { <-ch; close(done) }()
	return done
}
