package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// debianPython is Debian's interpreter, the one that sees python3-kubernetes: a python3 earlier
// on PATH (a virtualenv, pyenv) may not.
const debianPython = "/usr/bin/python3"

// TestPythonClient drives a server with the official Python client as Debian packages it
// (python3-kubernetes), running testdata/clients/python/steps.py once per step.
func TestPythonClient(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(debianPython, "-c", "import kubernetes; print(kubernetes.__version__)").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python Kubernetes client is missing (install Debian's python3-kubernetes, as .ci/run does): %s -c 'import kubernetes': %v\n%s",
			debianPython, err, out)
	}
	t.Logf("Python kubernetes client %s", strings.TrimSpace(string(out)))
	runClientSteps(t, clientScript{name: "py", dir: clientDir(t, "python"), argv: []string{debianPython, "steps.py"}})
}
