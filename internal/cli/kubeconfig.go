package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names of the kubeconfig entries the server owns.
const (
	kubeconfigCluster = "skiff"
	kubeconfigUser    = "admin"
	kubeconfigContext = "skiff"
)

// writeKubeconfig makes the kubeconfig at path reach server as the admin: cluster "skiff" with
// server and caPEM, user "admin" with token, and context "skiff" joining them, current unless
// another context that exists was chosen. Other entries, and the namespace of context "skiff",
// are kept; a file that does not parse is replaced. The file is readable by its owner only and is
// rewritten only when its contents change; changed reports whether it was.
func writeKubeconfig(path, server string, caPEM []byte, token string) (changed bool, err error) {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("cli: read kubeconfig: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	if len(old) > 0 {
		if loaded, err := clientcmd.Load(old); err == nil {
			cfg = loaded
		}
	}

	cfg.Clusters[kubeconfigCluster] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[kubeconfigUser] = &clientcmdapi.AuthInfo{Token: token}
	ctx := &clientcmdapi.Context{Cluster: kubeconfigCluster, AuthInfo: kubeconfigUser}
	if prev, ok := cfg.Contexts[kubeconfigContext]; ok {
		ctx.Namespace = prev.Namespace
	}
	cfg.Contexts[kubeconfigContext] = ctx
	if _, ok := cfg.Contexts[cfg.CurrentContext]; !ok {
		cfg.CurrentContext = kubeconfigContext
	}

	content, err := clientcmd.Write(*cfg)
	if err != nil {
		return false, fmt.Errorf("cli: encode kubeconfig: %w", err)
	}
	if bytes.Equal(content, old) {
		return false, nil
	}

	// Write a temporary file and rename it over path, so a reader never sees half a kubeconfig.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return false, fmt.Errorf("cli: write kubeconfig: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := clientcmd.WriteToFile(*cfg, tmp.Name()); err != nil {
		return false, fmt.Errorf("cli: write kubeconfig: %w", err)
	}
	if err := syncFile(tmp.Name()); err != nil {
		return false, fmt.Errorf("cli: write kubeconfig: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("cli: write kubeconfig: %w", err)
	}
	return true, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
