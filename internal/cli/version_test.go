package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersions(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/skiff-dev/skiff", Version: "(devel)"},
		Deps: []*debug.Module{{Path: "k8s.io/apimachinery", Version: "v0.36.0"}, {Path: "k8s.io/api", Version: "v0.37.2"}},
	}
	if got := kubernetesVersion(bi); got != "v1.37.2" {
		t.Errorf("kubernetesVersion = %q, want v1.37.2", got)
	}
	if got := kubernetesVersion(nil); got != "unknown" {
		t.Errorf("kubernetesVersion(nil) = %q", got)
	}

	tests := []struct {
		name, stamped, module, want string
	}{
		{name: "stamped wins", stamped: "v0.3.0", module: "v0.2.0", want: "v0.3.0"},
		{name: "module version", module: "v0.2.0", want: "v0.2.0"},
		{name: "devel build", module: "(devel)", want: "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi := &debug.BuildInfo{Main: debug.Module{Version: tt.module}}
			if got := skiffVersion(tt.stamped, bi); got != tt.want {
				t.Errorf("skiffVersion = %q, want %q", got, tt.want)
			}
		})
	}
}
