package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxBodyBytes is the largest request body accepted, as kube-apiserver's 3 MiB limit.
const maxBodyBytes = 3 << 20

// readBody reads r's body, refusing bodies over maxBodyBytes with 413.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	size := 512
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes {
		size = int(n) + 1 // the announced size, and a byte to see the end without growing
	}
	body, err := readAll(io.LimitReader(r.Body, maxBodyBytes+1), size)
	if err != nil {
		return nil, badRequest("reading request body: %v", err)
	}
	if len(body) > maxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
	}
	return body, nil
}

// readAll is io.ReadAll starting with a buffer of size bytes, so that a body whose length is
// known is read into one allocation rather than grown from 512 bytes by copying.
func readAll(r io.Reader, size int) ([]byte, error) {
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append grow the buffer
		}
	}
}

// fieldValidation returns the request's fieldValidation mode: Strict, Warn (default) or Ignore.
func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch strings.ToLower(v) {
	case "":
		return "Warn", nil
	case "strict":
		return "Strict", nil
	case "warn":
		return "Warn", nil
	case "ignore":
		return "Ignore", nil
	}
	return "", badRequest("fieldValidation parameter unsupported: %q", v)
}

// decodeInto decodes body (in the request's content type) into a new object of the served
// version, enforcing fieldValidation. Warnings go into the response's Warning headers.
func (s *Server) decodeInto(w http.ResponseWriter, r *http.Request, body []byte, into runtime.Object, gvk schema.GroupVersionKind) (runtime.Object, error) {
	info, ok := s.requestSerializer(r)
	if !ok {
		return nil, unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	mode, err := fieldValidation(r)
	if err != nil {
		return nil, err
	}
	return s.decodeWith(w, info, body, into, gvk, mode)
}

func (s *Server) decodeWith(w http.ResponseWriter, info runtime.SerializerInfo, body []byte, into runtime.Object, gvk schema.GroupVersionKind, mode string) (runtime.Object, error) {
	if len(body) == 0 {
		return nil, badRequest("request body is empty")
	}
	dec := info.Serializer
	if mode != "Ignore" && info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, actual, err := dec.Decode(body, &gvk, into)
	if err != nil {
		if strictErr, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
			switch mode {
			case "Strict":
				return nil, apierrors.NewBadRequest(strictErr.Error())
			case "Warn":
				for _, e := range strictErr.Errors() {
					addWarning(w, e.Error())
				}
			}
		} else {
			return nil, decodeError{err}
		}
	}
	if actual != nil && (actual.Group != gvk.Group || actual.Version != gvk.Version) {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion())
	}
	if actual != nil && actual.Kind != gvk.Kind {
		return nil, badRequest("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, gvk.Kind)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// decodeError is a body that does not decode into the expected type: a 400, except for a patch,
// whose result upstream refuses as an invalid patch (see patchObject).
type decodeError struct{ err error }

func (e decodeError) Error() string { return e.err.Error() }

func (e decodeError) Status() metav1.Status {
	return apierrors.NewBadRequest(e.err.Error()).Status()
}

func addWarning(w http.ResponseWriter, msg string) {
	w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(msg, `"`, `\"`)+`"`)
}
