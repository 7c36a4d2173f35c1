// Package definitions keeps what organisers shape at run time: each
// community's onboarding journey definition and ambassador programme,
// every saved version of them with who saved it and when, in the worker's
// own database (SQLite or PostgreSQL, like the services'). A version is
// never changed once saved; a publication makes one current — new
// journeys and nominations take it — and a running journey keeps the
// version it started with unless an organiser migrates it. Every save,
// publication and steering action is audited in the same transaction.
package definitions

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// Kinds of definition.
const (
	KindOnboarding = "onboarding"
	KindAmbassador = "ambassador"
)

// Sources of a version.
const (
	// SourceAPI: saved through the journeys API (the console, the CLI).
	SourceAPI = "api"
	// SourceSeed: from the Community resource or the worker's journeys file.
	SourceSeed = "seed"
	// SourceDefault: Kinship's default, kept when a community first
	// needed a definition.
	SourceDefault = "default"
)

// MaxDocument bounds a definition's JSON.
const MaxDocument = 256 << 10

// Version is one saved version of a definition.
type Version struct {
	Community string
	Kind      string
	Version   int
	// Document is the definition as indented JSON, as Parse gives it.
	Document string
	// Digest is the SHA-256 of Document, hex.
	Digest      string
	Source      string
	SavedAt     time.Time
	SavedByKind string
	SavedBy     string
	// PublishedAt is when it last became current; zero for a draft.
	PublishedAt time.Time
	// Current: new journeys take this version now.
	Current bool
}

// Published reports whether v was ever published.
func (v Version) Published() bool { return !v.PublishedAt.IsZero() }

// Errors of the store.
var (
	ErrNotFound = errors.New("no such definition version")
	// ErrStale: another version was saved after the one an edit began from.
	ErrStale = errors.New("another version was saved meanwhile")
)

// Parse checks a definition of kind and returns it as the indented JSON
// every version is kept in. Problems are field errors naming the step or
// setting; a document that is not JSON of the kind's shape is one error
// on "document" saying where.
func Parse(kind, document string) (string, error) {
	if len(document) > MaxDocument {
		return "", validate.Errors{validate.Field("document", "must be at most %d KiB", MaxDocument>>10)}
	}
	switch kind {
	case KindOnboarding:
		g, err := onboarding.ParseGraph(strings.NewReader(document))
		if err != nil {
			return "", validate.Errors{validate.Field("document", "%s", jsonProblem(document, err))}
		}
		if err := g.Validate(); err != nil {
			return "", err
		}
		return g.Document(), nil
	case KindAmbassador:
		p, err := ParseProgramme(document)
		if err != nil {
			return "", err
		}
		return ProgrammeDocument(p), nil
	}
	return "", validate.Errors{validate.Field("kind", "is not a kind of definition")}
}

// ParseProgramme reads a programme: what it leaves out takes the default
// programme's settings. It is validated.
func ParseProgramme(document string) (ambassador.Programme, error) {
	p := ambassador.DefaultProgramme()
	dec := json.NewDecoder(strings.NewReader(document))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return ambassador.Programme{}, validate.Errors{validate.Field("document", "%s", jsonProblem(document, err))}
	}
	if dec.More() {
		return ambassador.Programme{}, validate.Errors{validate.Field("document", "holds more than one JSON value")}
	}
	if err := p.Validate(); err != nil {
		return ambassador.Programme{}, err
	}
	return p, nil
}

// ProgrammeDocument is p as indented JSON, every setting spelled out.
func ProgrammeDocument(p ambassador.Programme) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		panic(fmt.Sprintf("encode a programme: %v", err)) // plain data always encodes
	}
	return b.String()
}

// Default is Kinship's default definition of kind, as a document.
func Default(kind string) string {
	if kind == KindAmbassador {
		return ProgrammeDocument(ambassador.DefaultProgramme())
	}
	return onboarding.DefaultGraph().Document()
}

// Onboarding reads the graph of an onboarding version.
func (v Version) Onboarding() (onboarding.Graph, error) {
	g, err := onboarding.ParseGraph(strings.NewReader(v.Document))
	if err != nil {
		return onboarding.Graph{}, fmt.Errorf("onboarding definition version %d of %s: %w", v.Version, v.Community, err)
	}
	return g, nil
}

// Programme reads the programme of an ambassador version.
func (v Version) Programme() (ambassador.Programme, error) {
	p, err := ParseProgramme(v.Document)
	if err != nil {
		return ambassador.Programme{}, fmt.Errorf("ambassador programme version %d of %s: %w", v.Version, v.Community, err)
	}
	return p, nil
}

// digest is the SHA-256 of a document, hex.
func digest(document string) string {
	sum := sha256.Sum256([]byte(document))
	return hex.EncodeToString(sum[:])
}

// jsonProblem says where a document stops being JSON of the right shape.
func jsonProblem(document string, err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	offset := int64(-1)
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Sprintf("line %d: the document ends too soon", 1+strings.Count(document, "\n"))
	}
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "not a journey definition: "), "json: ")
	if offset < 0 {
		return msg
	}
	line := 1 + strings.Count(document[:min(int(offset), len(document))], "\n")
	return fmt.Sprintf("line %d: %s", line, msg)
}
