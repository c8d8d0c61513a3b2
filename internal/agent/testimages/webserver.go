package testimages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// testWebserverCommand is agnhost's test-webserver: a file server on --port (80). Upstream's
// serves the container's root; a process pod's files are its working directory, so that is
// what this one serves.
func (p *Proc) testWebserverCommand(ctx context.Context) *cobra.Command {
	port := 80
	cmd := &cobra.Command{
		Use:   "test-webserver",
		Short: "Starts a simple HTTP fileserver",
		Long:  "Starts a simple HTTP fileserver on the given --port, which serves any file specified in the URL path, if it exists.",
		Args:  cobra.MaximumNArgs(0),
		RunE: func(*cobra.Command, []string) error {
			return p.serveHTTP(ctx, port, testWebserverHandler("."))
		},
	}
	cmd.Flags().IntVar(&port, "port", port, "Port number.")
	return cmd
}

func testWebserverHandler(root string) http.Handler {
	files := http.FileServer(http.Dir(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "private")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "DNT,X-Mx-ReqToken,Keep-Alive,User-Agent,X-Requested-With,Cache-Control,Content-Type")
		r.Header.Del("If-Modified-Since")
		files.ServeHTTP(w, r)
	})
}

// serveHTTP serves h on the pod's IP at port until the process ends.
func (p *Proc) serveHTTP(ctx context.Context, port int, h http.Handler) error {
	ln, err := p.listen(port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	return srv.Serve(ln)
}

// site is a web server image's default site: its index page and how it announces itself.
type site struct {
	server   string // the Server header
	index    string
	notFound string
	started  string // logged at start
}

// httpdSite is Apache httpd's default site, as registry.k8s.io/e2e-test-images/httpd serves it.
var httpdSite = site{
	server:   "Apache/2.4.38 (Unix)",
	index:    "<html><body><h1>It works!</h1></body></html>\n",
	notFound: "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n",
	started:  "AH00094: Command line: 'httpd -D FOREGROUND'",
}

// nginxSite is nginx's default site: its welcome page.
var nginxSite = site{
	server: "nginx/1.14.2",
	index: `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`,
	notFound: "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body bgcolor=\"white\">\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.14.2</center>\r\n</body>\r\n</html>\r\n",
}

// serveStatic serves s on port 80 of the pod's IP, logging each request to stdout in the
// combined log format as both images do. SIGTERM ends it with 0.
func (p *Proc) serveStatic(ctx context.Context, s site) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.terminated():
			cancel()
		case <-ctx.Done():
		}
	}()
	ln, err := p.listen(80)
	if err != nil {
		return err
	}
	if s.started != "" {
		fmt.Fprintln(p.Stderr, s.started)
	}
	srv := &http.Server{Handler: s.handler(p.Stdout), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s site) handler(access io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", s.server)
		body, code := s.notFound, http.StatusNotFound
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			body, code = s.index, http.StatusOK
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			io.WriteString(w, body)
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(access, "%s - - [%s] %q %d %d %q %q\n", host, time.Now().Format("02/Jan/2006:15:04:05 -0700"),
			r.Method+" "+r.URL.RequestURI()+" "+r.Proto, code, len(body), orDash(r.Referer()), orDash(r.UserAgent()))
	})
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
