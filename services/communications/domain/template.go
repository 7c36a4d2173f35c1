package domain

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"

	"golang.org/x/text/language"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Variant is a template in one locale; "" is the fallback locale.
type Variant struct {
	Locale  string
	Subject string
	Text    string
	HTML    string
}

// Template is a community's named message template.
type Template struct {
	Community string
	Name      string
	Variants  []Variant
	UpdatedAt time.Time
}

// TemplateData is what template bodies see.
type TemplateData struct {
	Community      string
	Member         MemberData
	Event          EventData
	Events         []EventData
	UnsubscribeURL string
	Vars           map[string]string
}

// MemberData is the member a message is for.
type MemberData struct {
	ID, DisplayName, Email, Locale string
}

// EventData is an event a message tells about.
type EventData struct {
	Title, StartsAt, URL, Venue string
}

// Limits on templates.
const (
	MaxVariants   = 20
	MaxBodyBytes  = 100 << 10
	maxRenderSize = 1 << 20
)

// ErrTemplateNotFound means no template has that name in the community.
var ErrTemplateNotFound = errors.New("template not found")

// Rendered is a message ready to send.
type Rendered struct {
	Locale, Subject, Text, HTML string
}

// NewTemplate parses every variant and tries it on sample data; errors
// name the variant, the part and the line.
func NewTemplate(community, name string, variants []Variant, now time.Time) (Template, error) {
	var errs validate.Errors
	n, ferr := validate.Slug("name", name, 63)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	switch {
	case len(variants) == 0:
		errs = append(errs, validate.Field("variants", "need at least one variant"))
	case len(variants) > MaxVariants:
		errs = append(errs, validate.Field("variants", "must be at most %d", MaxVariants))
	}
	seen := map[string]bool{}
	hasFallback := false
	out := make([]Variant, 0, len(variants))
	for i, v := range variants {
		field := fmt.Sprintf("variants[%d]", i)
		if v.Locale != "" {
			tag, err := language.Parse(v.Locale)
			if err != nil {
				errs = append(errs, validate.Field(field+".locale", "is not a BCP 47 language tag"))
				continue
			}
			v.Locale = tag.String()
		} else {
			hasFallback = true
		}
		if seen[v.Locale] {
			errs = append(errs, validate.Field(field+".locale", "appears twice"))
		}
		seen[v.Locale] = true
		if strings.TrimSpace(v.Subject) == "" || strings.TrimSpace(v.Text) == "" {
			errs = append(errs, validate.Field(field, "needs a subject and a text body"))
			continue
		}
		if len(v.Subject) > 500 || len(v.Text) > MaxBodyBytes || len(v.HTML) > MaxBodyBytes {
			errs = append(errs, validate.Field(field, "subject or body too long"))
			continue
		}
		if _, err := v.render(sampleData()); err != nil {
			errs = append(errs, validate.Field(field+"."+partOf(err), "%s", lineOf(err)))
			continue
		}
		out = append(out, v)
	}
	if len(variants) > 0 && !hasFallback {
		errs = append(errs, validate.Field("variants", "need one variant with the empty fallback locale"))
	}
	if err := errs.Err(); err != nil {
		return Template{}, err
	}
	return Template{Community: community, Name: n, Variants: out, UpdatedAt: now.UTC().Truncate(time.Microsecond)}, nil
}

// Pick chooses the variant for locale: exact, then the base language,
// then the fallback.
func (t Template) Pick(locale string) Variant {
	byLocale := map[string]Variant{}
	for _, v := range t.Variants {
		byLocale[v.Locale] = v
	}
	if tag, err := language.Parse(locale); err == nil {
		if v, ok := byLocale[tag.String()]; ok {
			return v
		}
		base, _ := tag.Base()
		if v, ok := byLocale[base.String()]; ok {
			return v
		}
	}
	return byLocale[""]
}

// Render renders the variant for data.Member.Locale.
func (t Template) Render(data TemplateData) (Rendered, error) {
	c, err := t.Compile()
	if err != nil {
		return Rendered{}, err
	}
	return c.Render(data)
}

// Compiled is a template parsed once, to render many messages; it is safe
// for concurrent use.
type Compiled struct {
	template Template
	variants map[string]*compiledVariant
}

// Compile parses every variant of t.
func (t Template) Compile() (*Compiled, error) {
	c := &Compiled{template: t, variants: map[string]*compiledVariant{}}
	for _, v := range t.Variants {
		cv, err := v.compile()
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", t.Name, err)
		}
		c.variants[v.Locale] = cv
	}
	return c, nil
}

// Render renders the variant for data.Member.Locale.
func (c *Compiled) Render(data TemplateData) (Rendered, error) {
	v := c.template.Pick(data.Member.Locale)
	cv := c.variants[v.Locale]
	if cv == nil {
		return Rendered{}, fmt.Errorf("template %s has no fallback variant", c.template.Name)
	}
	r, err := cv.render(data)
	if err != nil {
		return Rendered{}, fmt.Errorf("render template %s: %w", c.template.Name, err)
	}
	r.Locale = v.Locale
	return r, nil
}

// partError says which part of a variant failed.
type partError struct {
	part string
	err  error
}

func (e *partError) Error() string { return e.part + ": " + e.err.Error() }

// compiledVariant is a variant's parsed parts.
type compiledVariant struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template // nil without an HTML body
}

func (v Variant) compile() (*compiledVariant, error) {
	var cv compiledVariant
	var err error
	if cv.subject, err = texttemplate.New("subject").Option("missingkey=zero").Parse(v.Subject); err != nil {
		return nil, &partError{"subject", err}
	}
	if cv.text, err = texttemplate.New("text_body").Option("missingkey=zero").Parse(v.Text); err != nil {
		return nil, &partError{"text_body", err}
	}
	if v.HTML != "" {
		if cv.html, err = htmltemplate.New("html_body").Option("missingkey=zero").Parse(v.HTML); err != nil {
			return nil, &partError{"html_body", err}
		}
	}
	return &cv, nil
}

func (v Variant) render(data TemplateData) (Rendered, error) {
	cv, err := v.compile()
	if err != nil {
		return Rendered{}, err
	}
	return cv.render(data)
}

func (cv *compiledVariant) render(data TemplateData) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = execute("subject", cv.subject, data); err != nil {
		return r, err
	}
	if strings.ContainsAny(r.Subject, "\r\n") {
		return r, &partError{"subject", errors.New("line 1: renders with a line break")}
	}
	if r.Text, err = execute("text_body", cv.text, data); err != nil {
		return r, err
	}
	if cv.html != nil {
		var buf bytes.Buffer
		if err := cv.html.Execute(&limitedBuffer{buf: &buf}, data); err != nil {
			return r, &partError{"html_body", err}
		}
		r.HTML = buf.String()
	}
	return r, nil
}

func execute(part string, t *texttemplate.Template, data TemplateData) (string, error) {
	var buf bytes.Buffer
	if err := t.Execute(&limitedBuffer{buf: &buf}, data); err != nil {
		return "", &partError{part, err}
	}
	return buf.String(), nil
}

// limitedBuffer stops a runaway template.
type limitedBuffer struct{ buf *bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > maxRenderSize {
		return 0, errors.New("renders to more than 1 MiB")
	}
	return l.buf.Write(p)
}

var templateLine = regexp.MustCompile(`^template: [^:]+:(\d+)(?::\d+)?: (.*)$`)

// lineOf rewrites a template error as "line N: what".
func lineOf(err error) string {
	var pe *partError
	if errors.As(err, &pe) {
		err = pe.err
	}
	msg := err.Error()
	if m := templateLine.FindStringSubmatch(msg); m != nil {
		return "line " + m[1] + ": " + m[2]
	}
	return msg
}

func partOf(err error) string {
	var pe *partError
	if errors.As(err, &pe) {
		return pe.part
	}
	return "text_body"
}

func sampleData() TemplateData {
	ev := EventData{Title: "Repair café", StartsAt: "Saturday 14:00", URL: "https://example.org/e/1", Venue: "Town hall"}
	return TemplateData{
		Community: "demo",
		Member:    MemberData{ID: "sample", DisplayName: "Ada Lovelace", Email: "ada@example.org", Locale: "en"},
		Event:     ev, Events: []EventData{ev},
		UnsubscribeURL: "https://example.org/unsubscribe", Vars: map[string]string{},
	}
}

// SampleData is the sample member PreviewTemplate renders for.
func SampleData() TemplateData { return sampleData() }
