package cli

import (
	"errors"
	"os"
	"path/filepath"
)

// Files in a server's data directory.
const (
	caCertFile      = "ca.crt"          // the cluster CA; clients trust it
	caKeyFile       = "ca.key"          // 0600
	servingCertFile = "server.crt"      // the API server's serving certificate, signed by the CA
	servingKeyFile  = "server.key"      // 0600
	adminTokenFile  = "token"           // 0600: the admin bearer token
	agentTokenFile  = "agent-token"     // 0600: the token agents join with
	kubeconfigFile  = "kubeconfig.yaml" // 0600: admin kubeconfig
	stateFile       = "state.db"        // the embedded store
)

// DefaultDataDir is the data directory used when --data-dir is not given: /var/lib/skiff when
// running as root, else $XDG_DATA_HOME/skiff, else ~/.local/share/skiff.
func DefaultDataDir() (string, error) {
	return defaultDataDir(os.Geteuid(), os.Getenv)
}

func defaultDataDir(euid int, getenv func(string) string) (string, error) {
	if euid == 0 {
		return "/var/lib/skiff", nil
	}
	// The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
	if xdg := getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "skiff"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cli: no default data directory: neither XDG_DATA_HOME nor HOME is set; pass --data-dir")
	}
	return filepath.Join(home, ".local", "share", "skiff"), nil
}
