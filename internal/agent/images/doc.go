// Package images is the node agent's local image store. An image is a name:tag that resolves to
// a command and a directory to run it in: a built-in image, or a directory imported with
// `skiff image import`, kept under the store's root with its entrypoint. The built-ins are the
// book's luksa/kubia app and stand-ins for the images Kubernetes' own tests run (agnhost, httpd,
// nginx, pause: the skiff binary's test-image subcommand; busybox: the host's own tools).
package images
