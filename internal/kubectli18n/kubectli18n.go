package kubectli18n

import (
	"os"
	"path/filepath"

	"k8s.io/kubectl/pkg/util/i18n"
)

// init is the one place skiff uses an init function: kubectl reads its translation loader during
// package initialisation, so it can only be replaced from another package's init that runs first
// (import paths sort this package before k8s.io/kubectl's).
func init() {
	_ = i18n.SetLoadTranslationsFunc(func() error {
		if !runsKubectl(os.Args) {
			return nil // untranslated (English) messages; nothing is printed from them
		}
		return i18n.LoadTranslations("kubectl", nil)
	})
}

// runsKubectl reports whether args start kubectl: `skiff kubectl ...` or a binary named kubectl.
func runsKubectl(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if filepath.Base(args[0]) == "kubectl" {
		return true
	}
	for _, a := range args[1:] {
		if len(a) > 0 && a[0] == '-' {
			continue
		}
		return a == "kubectl"
	}
	return false
}
