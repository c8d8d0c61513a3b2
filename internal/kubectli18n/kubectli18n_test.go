package kubectli18n

import "testing"

func TestRunsKubectl(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want bool
	}{
		{"skiff kubectl get", []string{"/usr/bin/skiff", "kubectl", "get", "po"}, true},
		{"binary named kubectl", []string{"/usr/local/bin/kubectl", "get"}, true},
		{"skiff server", []string{"skiff", "server", "--port", "0"}, false},
		{"skiff with a flag first", []string{"skiff", "--help"}, false},
		{"no args", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runsKubectl(tt.args); got != tt.want {
				t.Fatalf("runsKubectl(%q) = %v, want %v", tt.args, got, tt.want)
			}
		})
	}
}
