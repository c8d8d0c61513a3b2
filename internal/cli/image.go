package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/skiff-dev/skiff/internal/agent/images"
)

// NewImageCommand returns `skiff image`: the local image store node agents run containers from.
func NewImageCommand() *cobra.Command {
	var imagesDir string
	store := func() (*images.Store, error) {
		dir := imagesDir
		if dir == "" {
			base, err := DefaultDataDir()
			if err != nil {
				return nil, err
			}
			dir = filepath.Join(base, "images")
		}
		self, _ := os.Executable()
		return &images.Store{Root: dir, Self: self}, nil
	}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the local image store node agents run containers from",
		Long: `Manage the local image store node agents run containers from.

Built in are the book's luksa/kubia images (v1-v4, latest, and kubia-unhealthy). Any directory
becomes an image with "skiff image import": its files are copied into the store and the container
runs its entrypoint with that copy as its working directory.`,
	}
	cmd.PersistentFlags().StringVar(&imagesDir, "images-dir", "", "Image store (default: the default data directory's images, which `skiff server` with the default --data-dir uses)")

	var entrypoint, args string
	var env []string
	imp := &cobra.Command{
		Use:     "import NAME[:TAG] DIR --entrypoint CMD",
		Short:   "Import a directory as an image",
		Example: `  skiff image import myapp:v1 ./build --entrypoint "./server --port 8080"`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			img, err := s.Import(a[0], a[1], strings.Fields(entrypoint), strings.Fields(args), env, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s (%s, %s)\n", img.Ref, shortID(img.ID), resource.NewQuantity(img.Size, resource.BinarySI))
			return nil
		},
	}
	imp.Flags().StringVar(&entrypoint, "entrypoint", "", "Command the container runs, split on spaces; a relative path is relative to the image directory")
	imp.Flags().StringVar(&args, "cmd", "", "Default arguments, split on spaces (a pod's args replace them)")
	imp.Flags().StringArrayVar(&env, "env", nil, "Default environment variable KEY=VALUE (repeatable)")

	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List built-in and imported images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, img := range list {
				name, tag, _ := strings.Cut(img.Ref, ":")
				created, size := duration.HumanDuration(time.Since(img.Created))+" ago", resource.NewQuantity(img.Size, resource.BinarySI).String()
				if img.Builtin {
					size = "built-in"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, tag, shortID(img.ID), created, size)
			}
			return tw.Flush()
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME[:TAG]",
		Short: "Remove an imported image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			if err := s.Remove(a[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", images.Normalize(a[0]))
			return nil
		},
	}
	cmd.AddCommand(imp, ls, rm)
	return cmd
}

func shortID(id string) string {
	if i := strings.LastIndex(id, "sha256:"); i >= 0 {
		id = id[i+7:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
