package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// LoadOrCreateServingCert returns the agent's self-signed certificate for its log endpoint,
// kept in certFile and keyFile, and the hex SHA-256 of its DER encoding (the Node publishes it
// and the API server pins it).
func LoadOrCreateServingCert(certFile, keyFile string, ip net.IP, now time.Time) (tls.Certificate, string, error) {
	if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && now.Before(leaf.NotAfter) && len(leaf.IPAddresses) > 0 && leaf.IPAddresses[0].Equal(ip) {
			sum := sha256.Sum256(cert.Certificate[0])
			return cert, hex.EncodeToString(sum[:]), nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("agent: generate key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "skiff-agent@" + ip.String()},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{ip},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("agent: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("agent: write key: %w", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("agent: write certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	return cert, hex.EncodeToString(sum[:]), nil
}

// LogHandler serves, to callers presenting token as a bearer token (the API server):
// /containerLogs/{namespace}/{pod}/{container}?podUID=...&<PodLogOptions> (its log proxy),
// /stats/usage (the node's and its pods' resource usage, for metrics.k8s.io), and the Prometheus
// series /metrics (the node's, then extra) and /metrics/resource (resource usage).
func (a *Agent) LogHandler(token string, extra ...prometheus.Collector) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	authorized := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	all, res := a.metricsHandlers(extra)
	mux.HandleFunc("GET /metrics", authorized(all.ServeHTTP))
	mux.HandleFunc("GET /metrics/resource", authorized(res.ServeHTTP))
	mux.HandleFunc("GET /stats/usage", authorized(func(w http.ResponseWriter, _ *http.Request) {
		u, err := a.ResourceUsage()
		if err != nil {
			writeStatusError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(u)
	}))
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", authorized(func(w http.ResponseWriter, r *http.Request) {
		opts, err := parseLogOptions(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		uid := types.UID(r.URL.Query().Get("podUID"))
		if uid == "" {
			p, err := a.pods.Pods(r.PathValue("namespace")).Get(r.PathValue("pod"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			uid = p.UID
		}
		if err := a.ServeContainerLogs(w, r, uid, r.PathValue("container"), opts); err != nil {
			writeStatusError(w, err)
		}
	}))
	a.addStreamRoutes(mux, token)
	return mux
}

// writeStatusError writes err as the API's Status object.
func writeStatusError(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	status := metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}
	if errors.As(err, &st) {
		status = st.Status()
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(int(status.Code))
	w.Write([]byte(status.Message))
}

// ServeLogs serves the agent's HTTPS endpoint (LogHandler) on ln with cert until ctx ends.
func (a *Agent) ServeLogs(ctx context.Context, ln net.Listener, cert tls.Certificate, token string, log *slog.Logger, extra ...prometheus.Collector) error {
	srv := &http.Server{
		Handler:           a.LogHandler(token, extra...),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		return fmt.Errorf("agent: serve logs: %w", err)
	}
}
