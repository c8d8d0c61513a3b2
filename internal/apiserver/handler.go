package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/http/pprof"
	goruntime "runtime"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-dev/skiff/internal/registry"
)

type ctxKey int

const userKey ctxKey = iota

// buildHandler assembles the whole HTTP surface: public health and version endpoints, then
// authentication, then discovery, OpenAPI and resources.
func (s *Server) buildHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz" || p == "/livez" || strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/"):
			writeText(w, http.StatusOK, "ok")
			return
		case p == "/readyz" || strings.HasPrefix(p, "/readyz/"):
			if !s.started.Load() {
				writeText(w, http.StatusInternalServerError, "[-]skiff-cache-loaded failed: not ready\nreadyz check failed")
				return
			}
			writeText(w, http.StatusOK, "ok")
			return
		case p == "/version" || p == "/version/":
			s.writeJSONValue(w, http.StatusOK, s.version)
			return
		}
		user, ok := s.authenticate(r)
		if !ok {
			s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey, user))
		s.route(w, r)
	})
}

func (s *Server) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return "", false
	}
	token = strings.TrimSpace(token)
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.loopback)) == 1 {
		return "system:apiserver", true
	}
	if s.cfg.Authenticate != nil {
		return s.cfg.Authenticate(token)
	}
	return "", false
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/debug/pprof") {
		// profiling, as kube-apiserver's --profiling serves it (authenticated)
		switch strings.TrimPrefix(p, "/debug/pprof/") {
		case "profile":
			pprof.Profile(w, r)
		case "trace":
			pprof.Trace(w, r)
		case "symbol":
			pprof.Symbol(w, r)
		case "cmdline":
			pprof.Cmdline(w, r)
		default:
			pprof.Index(w, r)
		}
		return
	}
	if p == "/metrics" {
		s.metrics.handler.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(p, "/openapi/") {
		if s.openapi == nil {
			s.writeError(w, r, apierrors.NewNotFound(schemaGR("", "openapi"), p))
			return
		}
		s.openapi.ServeHTTP(w, r)
		return
	}
	info := parseRequestInfo(r)
	if !info.IsResource {
		s.serveDiscovery(w, r, info)
		return
	}
	if _, ok := s.served[gvr{info.Group, info.Version, info.Resource}]; !ok {
		s.serveResource(w, r, info) // a 404; not counted, so that unknown paths add no series
		return
	}
	s.metrics.instrument(w, r, &info, func(w http.ResponseWriter) { s.serveResource(w, r, info) })
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text))
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func goVersion() string { return goruntime.Version() }
func platform() string  { return goruntime.GOOS + "/" + goruntime.GOARCH }

// userOf is who the request in ctx was authenticated as. skiff has users but no groups of its
// own; every authenticated user is in system:authenticated, as upstream.
func userOf(ctx context.Context) registry.UserInfo {
	name, _ := ctx.Value(userKey).(string)
	return registry.UserInfo{Name: name, Groups: []string{"system:authenticated"}}
}
