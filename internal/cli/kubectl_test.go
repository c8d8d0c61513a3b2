package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFallbackKubeconfig(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists.yaml")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")

	tests := []struct {
		name   string
		args   []string
		env    string // $KUBECONFIG
		home   string // ~/.kube/config
		server string // the default data directory's kubeconfig
		want   string
	}{
		{name: "nothing else: use the server's", args: []string{"get", "ns"}, home: missing, server: existing, want: existing},
		{name: "KUBECONFIG wins", args: []string{"get", "ns"}, env: "/k", home: missing, server: existing},
		{name: "~/.kube/config wins", args: []string{"get", "ns"}, home: existing, server: existing},
		{name: "--kubeconfig wins", args: []string{"--kubeconfig", "/k", "get", "ns"}, home: missing, server: existing},
		{name: "--kubeconfig= wins", args: []string{"get", "ns", "--kubeconfig=/k"}, home: missing, server: existing},
		{name: "--kubeconfig after -- is not kubectl's", args: []string{"exec", "p", "--", "tool", "--kubeconfig=/k"}, home: missing, server: existing, want: existing},
		{name: "no server kubeconfig", args: []string{"get", "ns"}, home: missing, server: missing},
		{name: "no default data directory", args: []string{"get", "ns"}, home: missing, server: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "KUBECONFIG" {
					return tt.env
				}
				return ""
			}
			if got := fallbackKubeconfig(tt.args, getenv, tt.home, tt.server); got != tt.want {
				t.Errorf("fallbackKubeconfig = %q, want %q", got, tt.want)
			}
		})
	}
}
