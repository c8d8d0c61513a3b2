package cli

import (
	"context"
	"log/slog"

	"k8s.io/client-go/rest"
)

// startControllers starts the components that run inside the server as ordinary API clients
// (controllers, scheduler, later the embedded agent), talking to it through cfg. It returns once
// they are started; they stop when ctx is done.
func startControllers(ctx context.Context, cfg *rest.Config, log *slog.Logger) error {
	// TODO(lead): start the controllers here, e.g. one errgroup goroutine per controller.
	return nil
}
