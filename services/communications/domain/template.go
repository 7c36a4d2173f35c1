package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
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
	// ConfirmURL is the signed link of an e-mail address confirmation.
	ConfirmURL string
	Vars       map[string]string
	// run is the rendering's time budget; templates cannot reach it.
	run *runState
}

// MemberData is the member a message is for.
type MemberData struct {
	ID, DisplayName, Email, Locale string
}

// EventData is an event a message tells about.
type EventData struct {
	Title, StartsAt, URL, Venue string
}

// Limits on templates; the limits on what a body may do and how long and
// large it may render are in templaterules.go and templaterun.go.
const (
	MaxVariants  = 20
	MaxBodyBytes = 100 << 10
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
		if ferr := checkRequiredUse(n, i, v); ferr != nil {
			errs = append(errs, ferr)
			continue
		}
		if _, err := v.trial(); err != nil {
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

// Render renders the variant for data.Member.Locale, within
// RenderTimeLimit.
func (c *Compiled) Render(data TemplateData) (Rendered, error) {
	return c.renderBy(data, newRun(time.Now, RenderTimeLimit))
}

func (c *Compiled) renderBy(data TemplateData, run *runState) (Rendered, error) {
	v := c.template.Pick(data.Member.Locale)
	cv := c.variants[v.Locale]
	if cv == nil {
		return Rendered{}, fmt.Errorf("template %s has no fallback variant", c.template.Name)
	}
	data.run = run
	r, err := cv.render(data)
	if err != nil {
		return Rendered{}, fmt.Errorf("render template %s: %w", c.template.Name, err)
	}
	r.Locale = v.Locale
	return r, nil
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

// sampleData is what a template is tried on when saved: a sample member
// and as many events as a digest can list, so a body that would render
// too large for a real digest is refused then.
func sampleData() TemplateData {
	ev := EventData{Title: "Repair café", StartsAt: "Saturday 14:00", URL: "https://example.org/e/1", Venue: "Town hall"}
	events := make([]EventData, DigestMaxEvents)
	for i := range events {
		events[i] = ev
	}
	return TemplateData{
		Community: "demo",
		Member:    MemberData{ID: "sample", DisplayName: "Ada Lovelace", Email: "ada@example.org", Locale: "en"},
		Event:     ev, Events: events,
		UnsubscribeURL: "https://example.org/unsubscribe", ConfirmURL: "https://example.org/confirm", Vars: map[string]string{},
	}
}

// SampleData is the sample member PreviewTemplate renders for.
func SampleData() TemplateData { return sampleData() }
