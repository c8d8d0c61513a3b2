// Package images is the node agent's local image store. An image is a name:tag that resolves to
// a command and a directory to run it in: the built-in demo images (the book's luksa/kubia app,
// served by the skiff binary itself) or a directory imported with `skiff image import`, kept
// under the store's root with its entrypoint.
package images
