package e2e

import (
	"strings"
	"testing"
)

// TestAuthCanIAndWhoami: kubectl auth can-i (SelfSubjectAccessReview), auth can-i --list
// (SelfSubjectRulesReview) and auth whoami (SelfSubjectReview) answer with every kubectl. skiff
// has no authorization policy yet, so the admin may do everything, and the reviews say so.
func TestAuthCanIAndWhoami(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--runtime", "none")
	for _, k := range kubectls(t) {
		t.Run(k.name, func(t *testing.T) {
			if out := strings.TrimSpace(s.must(k, "auth", "can-i", "create", "deployments.apps")); out != "yes" {
				t.Errorf("auth can-i create deployments = %q, want yes", out)
			}
			if out := strings.TrimSpace(s.must(k, "auth", "can-i", "get", "/healthz")); out != "yes" {
				t.Errorf("auth can-i get /healthz = %q, want yes", out)
			}
			contains(t, "auth can-i --list", s.must(k, "auth", "can-i", "--list"), "*.*", "[*]")
			contains(t, "auth whoami", s.must(k, "auth", "whoami"), "admin", "system:authenticated")
		})
	}
}
