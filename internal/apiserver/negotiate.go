package apiserver

import (
	"mime"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// outputKind is what shape of object a client asked for besides the resource itself.
type outputKind int

const (
	outputObject outputKind = iota
	outputTable
	outputPartialMetadata
)

// mediaChoice is the outcome of content negotiation for one response.
type mediaChoice struct {
	info       runtime.SerializerInfo
	mediaType  string // the Content-Type to answer with
	output     outputKind
	tableGV    string // "v1" or "v1beta1" for tables
	metaGV     string // "v1" or "v1beta1" for partial object metadata
	discoveryV string // "v2" or "v2beta1" for aggregated discovery
}

type acceptEntry struct {
	mediaType string
	params    map[string]string
}

func parseAccept(h string) []acceptEntry {
	var out []acceptEntry
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && q == "0" {
			continue
		}
		out = append(out, acceptEntry{mediaType: mt, params: params})
	}
	if len(out) == 0 {
		out = append(out, acceptEntry{mediaType: "*/*"})
	}
	return out
}

// negotiate picks the serializer and output shape from the Accept header. allowTable says whether
// Table and PartialObjectMetadata conversions are possible for this request.
func (s *Server) negotiate(r *http.Request, allowTable bool) (mediaChoice, bool) {
	return s.negotiateOutput(r, allowTable, allowTable)
}

// negotiateOutput is negotiate with the Table and the PartialObjectMetadata conversions allowed
// apart, as kube-apiserver's handlers/rest.go AllowsMediaTypeTransform does: a Table needs the
// resource's table columns, metadata only needs the object.
func (s *Server) negotiateOutput(r *http.Request, allowTable, allowPartial bool) (mediaChoice, bool) {
	for _, e := range parseAccept(r.Header.Get("Accept")) {
		info, ok := s.serializerFor(e.mediaType)
		if !ok {
			continue
		}
		c := mediaChoice{info: info, mediaType: info.MediaType}
		as, g, v := e.params["as"], e.params["g"], e.params["v"]
		switch {
		case as == "":
		case as == "Table" && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1"):
			if !allowTable || info.MediaType != "application/json" {
				continue
			}
			c.output, c.tableGV = outputTable, v
		case (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1"):
			if !allowPartial {
				continue
			}
			c.output, c.metaGV = outputPartialMetadata, v
		default:
			continue
		}
		return c, true
	}
	return mediaChoice{}, false
}

func (s *Server) serializerFor(mediaType string) (runtime.SerializerInfo, bool) {
	switch mediaType {
	case "*/*", "application/*", "":
		mediaType = runtime.ContentTypeJSON
	}
	for _, info := range s.codecs.SupportedMediaTypes() {
		if info.MediaType == mediaType {
			return info, true
		}
	}
	return runtime.SerializerInfo{}, false
}

// requestSerializer returns the serializer for a request body's Content-Type. An empty
// Content-Type means JSON, as kube-apiserver treats it.
func (s *Server) requestSerializer(r *http.Request) (runtime.SerializerInfo, bool) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return s.serializerFor(runtime.ContentTypeJSON)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return runtime.SerializerInfo{}, false
	}
	return s.serializerFor(mt)
}
