package cli

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestServerOptionsComplete(t *testing.T) {
	hostIP := func() (net.IP, error) { return net.ParseIP("10.0.0.5"), nil }
	noHostIP := func() (net.IP, error) { return nil, errors.New("no route") }

	tests := []struct {
		name          string
		set           func(o *serverOptions)
		hostIP        func() (net.IP, error)
		wantAdvertise string
		wantURL       string // serverURL(6443)
		wantErr       string
	}{
		{
			name:          "defaults advertise the bind address",
			wantAdvertise: "127.0.0.1", wantURL: "https://127.0.0.1:6443",
		},
		{
			name:          "specific bind is advertised and used by clients",
			set:           func(o *serverOptions) { o.bind = "192.168.1.9" },
			wantAdvertise: "192.168.1.9", wantURL: "https://192.168.1.9:6443",
		},
		{
			name:          "unspecified bind advertises the host address, clients use loopback",
			set:           func(o *serverOptions) { o.bind = "0.0.0.0" },
			wantAdvertise: "10.0.0.5", wantURL: "https://127.0.0.1:6443",
		},
		{
			name:          "unspecified bind without a host address advertises loopback",
			set:           func(o *serverOptions) { o.bind = "::" },
			hostIP:        noHostIP,
			wantAdvertise: "127.0.0.1", wantURL: "https://127.0.0.1:6443",
		},
		{
			name:          "explicit advertise address",
			set:           func(o *serverOptions) { o.advertiseAddress = "172.16.0.2" },
			wantAdvertise: "172.16.0.2", wantURL: "https://127.0.0.1:6443",
		},
		{
			name:          "IPv6 bind",
			set:           func(o *serverOptions) { o.bind = "::1" },
			wantAdvertise: "::1", wantURL: "https://[::1]:6443",
		},
		{name: "bind must be an IP", set: func(o *serverOptions) { o.bind = "localhost" }, wantErr: "--bind"},
		{name: "port in range", set: func(o *serverOptions) { o.port = 65536 }, wantErr: "--port"},
		{name: "negative port", set: func(o *serverOptions) { o.port = -1 }, wantErr: "--port"},
		{name: "advertise must be specific", set: func(o *serverOptions) { o.advertiseAddress = "0.0.0.0" }, wantErr: "--advertise-address"},
		{name: "node IP must be an IP", set: func(o *serverOptions) { o.nodeIP = "node" }, wantErr: "--node-ip"},
		{name: "service CIDR must parse", set: func(o *serverOptions) { o.serviceCIDR = "10.0.0.0" }, wantErr: "--service-cidr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newServerOptions()
			o.dataDir = "rel/dir"
			if tt.set != nil {
				tt.set(o)
			}
			h := tt.hostIP
			if h == nil {
				h = hostIP
			}
			cfg, err := o.complete(h)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.advertise.String(); got != tt.wantAdvertise {
				t.Errorf("advertise %s, want %s", got, tt.wantAdvertise)
			}
			if got := cfg.serverURL(6443); got != tt.wantURL {
				t.Errorf("serverURL %s, want %s", got, tt.wantURL)
			}
			if !strings.HasPrefix(cfg.dataDir, "/") || !strings.HasSuffix(cfg.dataDir, "/rel/dir") {
				t.Errorf("data dir %q is not made absolute", cfg.dataDir)
			}
		})
	}
}

func TestServingHosts(t *testing.T) {
	o := newServerOptions()
	o.dataDir = "/d"
	o.bind = "0.0.0.0"
	o.advertiseAddress = "10.1.1.1"
	cfg, err := o.complete(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := servingHosts(cfg, "node-a")
	for _, want := range []string{"127.0.0.1", "localhost", "10.1.1.1", "node-a", "127.2.0.1", "kubernetes.default.svc"} {
		if !slices.Contains(got, want) {
			t.Errorf("hosts %v lack %s", got, want)
		}
	}
	if slices.Contains(got, "0.0.0.0") {
		t.Errorf("hosts %v name the unspecified address", got)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(got) {
		t.Errorf("hosts %v have duplicates", got)
	}
}

func TestFirstServiceIP(t *testing.T) {
	tests := []struct{ cidr, want string }{
		{"127.2.0.0/16", "127.2.0.1"},
		{"10.96.0.0/12", "10.96.0.1"},
		{"10.96.0.7/12", "10.96.0.1"},
		{"fd00::/108", "fd00::1"},
		{"10.0.0.0/32", "<nil>"},
	}
	for _, tt := range tests {
		_, n, err := net.ParseCIDR(tt.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if got := firstServiceIP(n).String(); got != tt.want {
			t.Errorf("firstServiceIP(%s) = %s, want %s", tt.cidr, got, tt.want)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	c := &credentials{adminToken: "admin-secret", agentToken: "agent-secret"}
	tests := []struct {
		token, user string
		ok          bool
	}{
		{"admin-secret", "admin", true},
		{"agent-secret", "system:node", true},
		{"admin-secreT", "", false},
		{"", "", false},
		{"admin-secret ", "", false},
	}
	for _, tt := range tests {
		user, ok := c.authenticate(tt.token)
		if user != tt.user || ok != tt.ok {
			t.Errorf("authenticate(%q) = %q, %v; want %q, %v", tt.token, user, ok, tt.user, tt.ok)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("log output %q", out)
	}
	if _, err := newLogger(&buf, "loud", "text"); err == nil {
		t.Error("accepted log level loud")
	}
	if _, err := newLogger(&buf, "info", "xml"); err == nil {
		t.Error("accepted log format xml")
	}
}
