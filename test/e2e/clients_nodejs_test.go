package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSClient drives a server with the official JavaScript client, @kubernetes/client-node as
// pinned in testdata/clients/js/package-lock.json (npm ci there installs it), running
// testdata/clients/js/steps.js once per step.
//
// The pin is the newest 1.x: 2.x loads undici 8, which needs Node 22.19 or later and fails at
// import on the Node 20 these machines have.
func TestJSClient(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing (install Debian's nodejs, as .ci/run does): %v", err)
	}
	dir := clientDir(t, "js")
	pkg, err := os.ReadFile(filepath.Join(dir, "node_modules", "@kubernetes", "client-node", "package.json"))
	if err != nil {
		t.Fatalf("@kubernetes/client-node is missing (run npm ci in %s, as .ci/run does): %v", dir, err)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(pkg, &meta); err != nil {
		t.Fatalf("reading @kubernetes/client-node's package.json: %v", err)
	}
	version, _ := exec.Command(node, "--version").Output()
	t.Logf("@kubernetes/client-node %s on node %s", meta.Version, strings.TrimSpace(string(version)))
	runClientSteps(t, clientScript{name: "js", dir: dir, argv: []string{node, "steps.js"}})
}
