package testimages

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// porterCommand is agnhost's porter: for each SERVE_PORT_N (or SERVE_TCP_PORT_N) variable it
// serves the variable's value over HTTP on port N, for SERVE_UDP_PORT_N over UDP and for
// SERVE_TLS_PORT_N over HTTPS (CERT_FILE and KEY_FILE, else a certificate for 127.0.0.1 made at
// start). SERVE_SCTP_PORT_N is not served.
func (p *Proc) porterCommand(ctx context.Context) *cobra.Command {
	var jsonResponse bool
	cmd := &cobra.Command{
		Use:   "porter",
		Short: "Serves requested data on ports specified in ENV variables",
		Args:  cobra.MaximumNArgs(0),
		Run: func(*cobra.Command, []string) {
			p.porter(ctx, os.Environ(), jsonResponse)
		},
	}
	cmd.Flags().BoolVar(&jsonResponse, "json-response", false, "Responds to requests with a json response that includes the default value with the http.Request Method")
	return cmd
}

func (p *Proc) porter(ctx context.Context, environ []string, jsonResponse bool) {
	log := p.logger()
	for _, kv := range environ {
		key, value, _ := strings.Cut(kv, "=")
		var port string
		var serve func(port int, value string) error
		switch {
		case strings.HasPrefix(key, "SERVE_PORT_"):
			port, serve = strings.TrimPrefix(key, "SERVE_PORT_"), func(n int, v string) error { return p.serveHTTP(ctx, n, porterHandler(v, jsonResponse)) }
		case strings.HasPrefix(key, "SERVE_TCP_PORT_"):
			port, serve = strings.TrimPrefix(key, "SERVE_TCP_PORT_"), func(n int, v string) error { return p.serveHTTP(ctx, n, porterHandler(v, jsonResponse)) }
		case strings.HasPrefix(key, "SERVE_UDP_PORT_"):
			port, serve = strings.TrimPrefix(key, "SERVE_UDP_PORT_"), p.serveUDPValue
		case strings.HasPrefix(key, "SERVE_TLS_PORT_"):
			port, serve = strings.TrimPrefix(key, "SERVE_TLS_PORT_"), func(n int, v string) error { return p.serveTLSValue(n, porterHandler(v, jsonResponse)) }
		case strings.HasPrefix(key, "SERVE_SCTP_PORT_"):
			log.Printf("SCTP port %s: SCTP is not served by skiff's agnhost stand-in", strings.TrimPrefix(key, "SERVE_SCTP_PORT_"))
			continue
		default:
			continue
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			log.Printf("server on port %q failed: invalid port", port)
			continue
		}
		go func() { log.Printf("server on port %q failed: %v", port, serve(n, value)) }()
	}
	<-ctx.Done()
}

func porterHandler(value string, jsonResponse bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !jsonResponse {
			fmt.Fprint(w, value)
			return
		}
		data, _ := json.Marshal(struct{ Method, Body string }{r.Method, value})
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
}

func (p *Proc) serveUDPValue(port int, value string) error {
	conn, err := net.ListenPacket("udp", p.listenAddr(port))
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 16)
	for {
		_, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		conn.WriteTo([]byte(value), from)
	}
}

func (p *Proc) serveTLSValue(port int, h http.Handler) error {
	var cert tls.Certificate
	var err error
	if cf, kf := p.Getenv("CERT_FILE"), p.Getenv("KEY_FILE"); cf != "" && kf != "" {
		cert, err = tls.LoadX509KeyPair(cf, kf)
	} else {
		cert, err = localhostCert()
	}
	if err != nil {
		return err
	}
	ln, err := p.listen(port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	return srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
}

// localhostCert makes a self-signed certificate for 127.0.0.1, ::1 and localhost, as the one
// upstream's image carries.
func localhostCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"Acme Co"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
