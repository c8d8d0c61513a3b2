// Package kubia is the demo app of "Kubernetes in Action" that the built-in luksa/kubia images
// run: an HTTP server on port 8080 answering with its version and the pod's host name, in the
// variants the book uses (v1-v4, the chapter 2 "You've hit" app and chapter 4's unhealthy app).
package kubia
