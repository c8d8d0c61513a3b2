package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// clientSteps are the steps each client script runs against one server, each step in a
// namespace of its own: list with label and field selectors, watch, the three patch types,
// the scale subresource, delete with each propagationPolicy (in the body and in the query) and
// a label-selected delete collection. A script takes KUBECONFIG NAMESPACE STEP, prints a line
// per check and exits non-zero on the first failure.
var clientSteps = []string{
	"list",
	"watch",
	"patch",
	"scale",
	"delete-foreground",
	"delete-orphan",
	"delete-background",
	"delete-collection",
}

// clientScript is how to run one client's step script.
type clientScript struct {
	name string   // used in the namespaces' names: "py", "js"
	dir  string   // the script's working directory
	argv []string // interpreter and script; the step's arguments follow
}

// runClientSteps starts a server and runs every step of c against it, in parallel, failing a
// step with the script's output.
func runClientSteps(t *testing.T, c clientScript) {
	t.Helper()
	s := startServer(t, "--runtime", "none")
	for _, step := range clientSteps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := append(append([]string{}, c.argv[1:]...), s.kubeconfig, c.name+"-"+step, step)
			cmd := exec.CommandContext(ctx, c.argv[0], args...)
			cmd.Dir = c.dir
			// TMPDIR: the Python dynamic client keeps its discovery cache there.
			cmd.Env = append(os.Environ(), "HOME="+s.home, "TMPDIR="+t.TempDir())
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s step %s: %v\n%s", c.name, step, err, out)
			}
			t.Logf("%s step %s:\n%s", c.name, step, out)
		})
	}
}

// clientDir is the directory of a client's scripts under testdata/clients.
func clientDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "clients", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
