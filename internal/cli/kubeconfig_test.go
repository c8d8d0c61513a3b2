package cli

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

var testCA = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

func mustWriteKubeconfig(t *testing.T, path, server, token string) bool {
	t.Helper()
	changed, err := writeKubeconfig(path, server, testCA, token)
	if err != nil {
		t.Fatalf("writeKubeconfig: %v", err)
	}
	return changed
}

func mustLoad(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return cfg
}

func TestWriteKubeconfigNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), kubeconfigFile)
	if !mustWriteKubeconfig(t, path, "https://127.0.0.1:6443", "tok") {
		t.Fatal("first write reported no change")
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}

	cfg := mustLoad(t, path)
	if cfg.CurrentContext != "skiff" {
		t.Errorf("current-context %q, want skiff", cfg.CurrentContext)
	}
	if c := cfg.Contexts["skiff"]; c == nil || c.Cluster != "skiff" || c.AuthInfo != "admin" {
		t.Errorf("context skiff = %+v, want cluster skiff and user admin", c)
	}

	// What a client builds from it: the URL, the CA and the token.
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://127.0.0.1:6443" || rc.BearerToken != "tok" || string(rc.CAData) != string(testCA) {
		t.Errorf("client config host %q token %q CA %q", rc.Host, rc.BearerToken, rc.CAData)
	}
}

func TestWriteKubeconfigRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), kubeconfigFile)
	mustWriteKubeconfig(t, path, "https://127.0.0.1:6443", "tok")

	if mustWriteKubeconfig(t, path, "https://127.0.0.1:6443", "tok") {
		t.Error("rewrite with the same settings reported a change")
	}
	if !mustWriteKubeconfig(t, path, "https://127.0.0.1:41234", "tok") {
		t.Error("new port reported no change")
	}
	if got := mustLoad(t, path).Clusters["skiff"].Server; got != "https://127.0.0.1:41234" {
		t.Errorf("server %q after port change", got)
	}
}

func TestWriteKubeconfigKeepsUserEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), kubeconfigFile)
	mustWriteKubeconfig(t, path, "https://127.0.0.1:6443", "tok")

	// The user adds a context of their own, switches to it and sets a namespace on ours.
	cfg := mustLoad(t, path)
	cfg.Contexts["mine"] = &clientcmdapi.Context{Cluster: "skiff", AuthInfo: "admin", Namespace: "dev"}
	cfg.Contexts["skiff"].Namespace = "kube-system"
	cfg.CurrentContext = "mine"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}

	mustWriteKubeconfig(t, path, "https://127.0.0.1:7000", "tok2")
	cfg = mustLoad(t, path)
	if cfg.CurrentContext != "mine" {
		t.Errorf("current-context %q, want the user's choice kept", cfg.CurrentContext)
	}
	if cfg.Contexts["mine"] == nil {
		t.Error("the user's context was dropped")
	}
	if ns := cfg.Contexts["skiff"].Namespace; ns != "kube-system" {
		t.Errorf("namespace of context skiff %q, want kept", ns)
	}
	if cfg.AuthInfos["admin"].Token != "tok2" || cfg.Clusters["skiff"].Server != "https://127.0.0.1:7000" {
		t.Error("server-owned entries were not updated")
	}
}

func TestWriteKubeconfigReplacesBrokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), kubeconfigFile)
	if err := os.WriteFile(path, []byte("{{{ not yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mustWriteKubeconfig(t, path, "https://127.0.0.1:6443", "tok") {
		t.Fatal("broken file was not replaced")
	}
	if mustLoad(t, path).CurrentContext != "skiff" {
		t.Error("replacement is not the server's kubeconfig")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
}
