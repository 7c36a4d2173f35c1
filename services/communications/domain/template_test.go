package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

func fieldError(t *testing.T, err error) *validate.FieldError {
	t.Helper()
	fes := validate.FieldErrors(err)
	if len(fes) != 1 {
		t.Fatalf("error = %v, want one field error", err)
	}
	return fes[0]
}

// Templates that could keep a core busy, fill memory or escape their data
// are refused when saved, with the variant field and the limit named.
func TestNewTemplateRefusesTemplatesBeyondTheLimits(t *testing.T) {
	huge := strings.Repeat("x", 30<<10)
	deep := strings.Repeat("{{if .Community}}", MaxNesting+1) + "x" + strings.Repeat("{{end}}", MaxNesting+1)
	tests := map[string]struct {
		text, subject string
		field, says   string
	}{
		"range over an integer":       {text: "{{range 1000000000}}x{{end}}", field: "variants[0].text_body", says: "not 1000000000"},
		"range over a computed value": {text: "{{range len .Events}}x{{end}}", field: "variants[0].text_body", says: "range over a field"},
		"range over a range's index":  {text: "{{range $i, $e := .Events}}{{range $i}}x{{end}}{{end}}", field: "variants[0].text_body", says: "range over a field"},
		"a variable holding a number": {text: "{{$n := 1000000000}}{{range $n}}x{{end}}", field: "variants[0].text_body", says: "variables may only hold fields"},
		"ranges nested three deep": {text: "{{range .Events}}{{range $.Events}}{{range $.Events}}x{{end}}{{end}}{{end}}", field: "variants[0].text_body",
			says: "ranges nest deeper than 2 (the limit)"},
		"blocks nested too deep":    {text: deep, field: "variants[0].text_body", says: "blocks nest deeper than 6 (the limit)"},
		"a huge output":             {text: "{{range .Events}}{{range $.Events}}" + huge + "{{end}}{{end}}", field: "variants[0].text_body", says: "renders to more than 1 MiB (the limit)"},
		"a huge printf width":       {text: `{{printf "%0999999999d" 1}}`, field: "variants[0].text_body", says: "printf widths"},
		"a computed printf format":  {text: `{{"%0999999999d" | printf}}`, field: "variants[0].text_body", says: "literal format"},
		"call":                      {text: `{{call .Vars.x}}`, field: "variants[0].text_body", says: `"call" is not allowed`},
		"recursive templates":       {text: `{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`, field: "variants[0].text_body", says: "not allowed"},
		"the runner's own function": {text: `{{kinshipDeadline $}}`, field: "variants[0].text_body", says: "not allowed"},
		"a limit in the subject":    {text: "Hello", subject: "{{range 5}}x{{end}}", field: "variants[0].subject", says: "range over a field"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := Variant{Subject: "Hi", Text: tt.text}
			if tt.subject != "" {
				v.Subject = tt.subject
			}
			_, err := NewTemplate("demo", "bad", []Variant{v}, time.Now())
			fe := fieldError(t, err)
			if fe.Field != tt.field || !strings.Contains(fe.Reason, tt.says) {
				t.Errorf("error = %s: %s, want %s mentioning %q", fe.Field, fe.Reason, tt.field, tt.says)
			}
		})
	}
	t.Run("html bodies obey the same limits", func(t *testing.T) {
		_, err := NewTemplate("demo", "bad", []Variant{{Subject: "Hi", Text: "Hi", HTML: "<ul>{{range 1000000000}}<li>x</li>{{end}}</ul>"}}, time.Now())
		if fe := fieldError(t, err); fe.Field != "variants[0].html_body" {
			t.Errorf("field = %s", fe.Field)
		}
	})
}

// The templates the platform ships and organisers write keep working.
func TestNewTemplateAcceptsOrdinaryTemplates(t *testing.T) {
	digest := `Hi {{.Member.DisplayName}},
{{range .Events}}
- {{.Title}}, {{.StartsAt}}{{if .URL}}
  Add it to your calendar: {{.URL}}{{end}}
{{end}}
To stop it: {{.UnsubscribeURL}}`
	html := `<p>Hello {{.Member.DisplayName}}</p><ul>{{range $e := .Events}}<li><a href="{{$e.URL}}">{{$e.Title}}</a></li>{{end}}</ul>` +
		`<a href="{{.UnsubscribeURL}}">Unsubscribe</a>{{with .Vars.topic}}<p>{{.}}</p>{{end}}{{printf "%-10s|" .Community}}`
	tmpl, err := NewTemplate("demo", "weekly", []Variant{{Subject: "This week in {{.Community}}", Text: digest, HTML: html}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data := SampleData()
	data.Member.DisplayName = "Ada <b>"
	data.Events = data.Events[:2]
	data.Vars = map[string]string{"topic": "solar & wind"}
	r, err := tmpl.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(r.Text, "- Repair café") != 2 || !strings.Contains(r.Text, "To stop it: https://example.org/unsubscribe") {
		t.Errorf("text = %q", r.Text)
	}
	for _, want := range []string{"Hello Ada &lt;b&gt;", `<a href="https://example.org/e/1">Repair café</a>`, `<a href="https://example.org/unsubscribe">`,
		"<p>solar &amp; wind</p>", "demo      |"} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("html lacks %q: %s", want, r.HTML)
		}
	}
	if strings.Contains(r.Text+r.HTML, deadlineFunc) {
		t.Error("the deadline checks print something")
	}
}

// A rendering whose time is up stops at its next action or iteration with
// the limit named, on the goroutine running it.
func TestRenderingStopsWhenItsTimeIsUp(t *testing.T) {
	tmpl, err := NewTemplate("demo", "slow", []Variant{{Subject: "Hi", Text: "{{range .Events}}{{range $.Events}}{{.Title}}{{end}}{{end}}"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tmpl.Compile()
	if err != nil {
		t.Fatal(err)
	}
	// A clock that moves a millisecond per look: the budget of 5 ms is
	// spent after a handful of checks, whatever the machine's speed.
	base, looks := time.Now(), 0
	clock := func() time.Time { looks++; return base.Add(time.Duration(looks) * time.Millisecond) }
	_, err = c.renderBy(SampleData(), newRun(clock, 5*time.Millisecond))
	if !errors.Is(err, errTimeLimit) || !strings.Contains(err.Error(), "takes more than 1s to render (the limit)") {
		t.Fatalf("error = %v, want the time limit", err)
	}
	if looks > 10 {
		t.Errorf("the clock was read %d times: rendering went on after its time was up", looks)
	}
	if _, err := c.renderBy(SampleData(), newRun(time.Now, time.Hour)); err != nil {
		t.Errorf("the same template within its time: %v", err)
	}
}

// The templates the service creates on its own obey the rules organisers'
// templates do.
func TestDefaultTemplatesAreValid(t *testing.T) {
	for _, name := range []string{TemplateEmailConfirmation, TemplateAlreadyMember} {
		d, ok := DefaultTemplate("demo", name, time.Now())
		if !ok {
			t.Fatalf("no default for %s", name)
		}
		if _, err := NewTemplate("demo", name, d.Variants, time.Now()); err != nil {
			t.Errorf("default %s: %v", name, err)
		}
	}
	if _, ok := DefaultTemplate("demo", "news", time.Now()); ok {
		t.Error("a default exists for a name the service does not send")
	}
}
