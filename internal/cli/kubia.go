package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/kubia"
)

// NewKubiaCommand returns the hidden `skiff kubia-app`: the app the built-in luksa/kubia images
// run, listening on $POD_IP:8080 and answering as $HOSTNAME (the pod's name).
func NewKubiaCommand() *cobra.Command {
	variant, listen := "v1", ""
	cmd := &cobra.Command{
		Use:    images.KubiaAppCommand,
		Short:  "Run the book's kubia demo app (what the built-in luksa/kubia images run)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKubia(cmd.Context(), variant, listen)
		},
	}
	cmd.Flags().StringVar(&variant, "variant", variant, "App variant: v1, v2, v3 (fails from the fifth request), v4, hit (chapter 2) or unhealthy (chapter 4)")
	cmd.Flags().StringVar(&listen, "listen", listen, "Address to listen on (default $POD_IP:8080, or 127.0.0.1:8080 without POD_IP)")
	return cmd
}

// RunKubiaApp runs the kubia app when args (os.Args) ask for it, before the rest of the command
// tree is built, so that a pod of a built-in image starts in milliseconds. It reports whether it
// ran; main exits then.
func RunKubiaApp(args []string) bool {
	if len(args) < 2 || args[1] != images.KubiaAppCommand {
		return false
	}
	cmd := NewKubiaCommand()
	cmd.SetArgs(args[2:])
	cmd.SilenceUsage = true
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
	return true
}

func runKubia(ctx context.Context, variant, listen string) error {
	host := os.Getenv("HOSTNAME")
	if host == "" {
		host, _ = os.Hostname()
	}
	if listen == "" {
		ip := os.Getenv("POD_IP")
		if ip == "" {
			ip = "127.0.0.1"
		}
		listen = net.JoinHostPort(ip, "8080")
	}
	h, err := kubia.Handler(variant, host, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Println("Kubia server starting...")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("kubia: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
