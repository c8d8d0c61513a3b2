package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/testimages"
)

// NewTestImageCommand returns the hidden `skiff test-image IMAGE ARGV0 [ARG...]`: what the
// built-in stand-ins of upstream's test images (agnhost, httpd, nginx, pause) run. ARGV0 is the
// program the container named (/agnhost); the ARGs are the container's own and go to the
// stand-in unparsed.
func NewTestImageCommand() *cobra.Command {
	return &cobra.Command{
		Use:                images.TestImageCommand + " IMAGE ARGV0 [ARG...]",
		Short:              "Run the stand-in of a Kubernetes test image (what the built-in agnhost, httpd, nginx and pause images run)",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.MinimumNArgs(2),
		Run: func(_ *cobra.Command, args []string) {
			os.Exit(testimages.Main(args[0], args[1], args[2:]))
		},
	}
}

// RunTestImage runs a test image's stand-in when args (os.Args) ask for it, before the rest of
// the command tree is built, so that its pods start fast. It reports whether it ran; it exits
// the process with the stand-in's code when it did.
func RunTestImage(args []string) bool {
	if len(args) < 4 || args[1] != images.TestImageCommand {
		return false
	}
	os.Exit(testimages.Main(args[2], args[3], args[4:]))
	return true
}
