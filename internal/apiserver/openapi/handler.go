package openapi

import (
	"bytes"
	"cmp"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-dev/skiff/internal/registry"
)

// Media types of the protobuf encodings. Clients send either spelling; the response always names
// the second, as upstream's does.
const (
	mediaTypeJSON             = "application/json"
	mediaTypeV2Protobuf       = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mediaTypeV2ProtobufDotted = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaTypeV3Protobuf       = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
	mediaTypeV3ProtobufDotted = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
)

// Handler serves /openapi/v2, the /openapi/v3 index and /openapi/v3/<group-version>.
type Handler struct {
	v2      *document
	v3      map[string]*document // by index key: "api/v1", "apis/apps/v1"
	v3Index func() (encoded, error)
	now     func() time.Time
	// models are the v3 schemas of every group-version, by definition name.
	models map[string]*jsonSchema
}

var _ http.Handler = (*Handler)(nil)

// document is one served document. It is built in New but encoded on its first request: JSON
// with the hash clients cache it by, then protobuf, which costs more, only if a client asks.
type document struct {
	json  func() (encoded, error)
	proto func() ([]byte, error)
}

type encoded struct {
	data []byte
	hash string // upper-case hex SHA-512 of data, as upstream computes it
}

func newDocument(doc any, toProto func([]byte) ([]byte, error)) *document {
	d := &document{json: sync.OnceValues(func() (encoded, error) { return encodeJSON(doc) })}
	d.proto = sync.OnceValues(func() ([]byte, error) {
		j, err := d.json()
		if err != nil {
			return nil, err
		}
		return toProto(j.data)
	})
	return d
}

func encodeJSON(doc any) (encoded, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return encoded{}, fmt.Errorf("openapi: encode document: %w", err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	sum := sha512.Sum512(data)
	return encoded{data: data, hash: strings.ToUpper(hex.EncodeToString(sum[:]))}, nil
}

// New builds the documents for resources; version is the server version reported as info.version
// (for example "v1.33.0"). Every error is found here; encoding waits for the first request.
func New(resources []*registry.Resource, version string) (*Handler, error) {
	rs, err := buildRoutes(resources)
	if err != nil {
		return nil, err
	}
	v2, err := buildV2(rs, version)
	if err != nil {
		return nil, err
	}
	v3, err := buildV3(rs, version)
	if err != nil {
		return nil, err
	}
	h := &Handler{v2: newDocument(v2, v2Proto), v3: map[string]*document{}, now: time.Now, models: map[string]*jsonSchema{}}
	for gv, doc := range v3 {
		h.v3[indexKey(gv)] = newDocument(doc, v3Proto)
		maps.Copy(h.models, doc.Components.Schemas)
	}
	h.v3Index = sync.OnceValues(h.encodeIndex)
	return h, nil
}

// Models returns the OpenAPI v3 schemas of every served type, by definition name, in the form
// k8s.io/kube-openapi reads: what server-side apply builds its type converter from, as
// kube-apiserver does from its own v3 definitions.
func (h *Handler) Models() (map[string]*spec.Schema, error) {
	data, err := json.Marshal(h.models)
	if err != nil {
		return nil, fmt.Errorf("openapi: encode models: %w", err)
	}
	var out map[string]*spec.Schema
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("openapi: decode models: %w", err)
	}
	return out, nil
}

// encodeIndex writes the /openapi/v3 discovery document client-go's openapi.Client reads: each
// group-version's URL, with the hash of its document.
func (h *Handler) encodeIndex() (encoded, error) {
	type entry struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}
	index := struct {
		Paths map[string]entry `json:"paths"`
	}{Paths: map[string]entry{}}
	for key, doc := range h.v3 {
		j, err := doc.json()
		if err != nil {
			return encoded{}, fmt.Errorf("openapi: v3 %s: %w", key, err)
		}
		index.Paths[key] = entry{ServerRelativeURL: serverRelativeURL(key, j.hash)}
	}
	return encodeJSON(index)
}

func serverRelativeURL(key, hash string) string {
	return "/openapi/v3/" + key + "?" + url.Values{"hash": {hash}}.Encode()
}

func v2Proto(doc []byte) ([]byte, error) {
	parsed, err := openapi_v2.ParseDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: parse v2 document for protobuf: %w", err)
	}
	return proto.Marshal(parsed)
}

func v3Proto(doc []byte) ([]byte, error) {
	parsed, err := openapi_v3.ParseDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: parse v3 document for protobuf: %w", err)
	}
	return proto.Marshal(parsed)
}

// ServeHTTP serves GET and HEAD of /openapi/v2, /openapi/v3 and /openapi/v3/<group-version>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch path := strings.TrimSuffix(r.URL.Path, "/"); {
	case path == "/openapi/v2":
		h.serve(w, r, h.v2, mediaTypeV2Protobuf, mediaTypeV2ProtobufDotted)
	case path == "/openapi/v3":
		index, err := h.v3Index()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-cache, private")
		serveBytes(w, r, index.data, mediaTypeJSON, index.hash)
	case strings.HasPrefix(path, "/openapi/v3/"):
		key := strings.TrimPrefix(path, "/openapi/v3/")
		doc, ok := h.v3[key]
		if !ok {
			http.Error(w, fmt.Sprintf("no OpenAPI v3 document for %q", key), http.StatusNotFound)
			return
		}
		j, err := doc.json()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		switch hash := r.URL.Query().Get("hash"); {
		case hash == "":
		case hash != j.hash:
			// The client has an old index: send it to the current document, as upstream does.
			http.Redirect(w, r, serverRelativeURL(key, j.hash), http.StatusMovedPermanently)
			return
		default:
			// The URL names this exact content, so it may be cached for good.
			w.Header().Set("Cache-Control", "public, immutable")
			w.Header().Set("Expires", h.now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
		}
		h.serve(w, r, doc, mediaTypeV3Protobuf, mediaTypeV3ProtobufDotted)
	default:
		http.NotFound(w, r)
	}
}

// serve writes doc as JSON or protobuf, whichever the Accept header prefers.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, doc *document, protobuf, protobufDotted string) {
	w.Header().Add("Vary", "Accept")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	offer := negotiate(r.Header.Get("Accept"), mediaTypeJSON, protobuf, protobufDotted)
	if offer == "" {
		http.Error(w, "OpenAPI is served as "+mediaTypeJSON+" or "+protobuf, http.StatusNotAcceptable)
		return
	}
	j, err := doc.json()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch offer {
	case mediaTypeJSON:
		serveBytes(w, r, j.data, mediaTypeJSON, j.hash)
	default:
		data, err := doc.proto()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// The ETag names the content, whatever its encoding; Vary: Accept keeps caches apart.
		serveBytes(w, r, data, protobufDotted, j.hash)
	}
}

// serveBytes writes data with an ETag, answering If-None-Match with 304 Not Modified.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, contentType, hash string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Etag", strconv.Quote(hash))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// negotiate returns the first of offers the Accept header allows, trying the header's media ranges
// from the highest quality down; "" if it allows none. No header allows everything.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		return offers[0]
	}
	type mediaRange struct {
		typ string
		q   float64
	}
	var ranges []mediaRange
	for clause := range strings.SplitSeq(accept, ",") {
		typ, params, _ := strings.Cut(clause, ";")
		mr := mediaRange{typ: strings.ToLower(strings.TrimSpace(typ)), q: 1}
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					mr.q = q
				}
			}
		}
		if mr.typ != "" && mr.q > 0 {
			ranges = append(ranges, mr)
		}
	}
	slices.SortStableFunc(ranges, func(a, b mediaRange) int { return cmp.Compare(b.q, a.q) })
	for _, mr := range ranges {
		for _, offer := range offers {
			major, _, _ := strings.Cut(offer, "/")
			if mr.typ == "*/*" || mr.typ == offer || mr.typ == major+"/*" {
				return offer
			}
		}
	}
	return ""
}
