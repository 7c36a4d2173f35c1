package domain

import (
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// FuzzNewTemplate feeds arbitrary template sources to the one template
// runner: saving never panics and refuses with field errors only; what it
// accepts renders for the sample data within the limits.
func FuzzNewTemplate(f *testing.F) {
	for _, seed := range [][2]string{
		{"Hello {{.Member.DisplayName}}", ""},
		{"{{range .Events}}- {{.Title}} {{.StartsAt}}{{if .URL}} {{.URL}}{{end}}\n{{end}}", `<ul>{{range .Events}}<li><a href="{{.URL}}">{{.Title}}</a></li>{{end}}</ul>`},
		{"{{range 1000000000}}x{{end}}", ""},
		{"{{range .Events}}{{range $.Events}}{{range $.Events}}x{{end}}{{end}}{{end}}", ""},
		{`{{printf "%0999999999d" 1}}`, ""},
		{`{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`, ""},
		{"{{$n := 5}}{{range $n}}{{end}}", ""},
		{"{{with .Vars.x}}{{.}}{{else}}none{{end}}", "<script>var x = {{.Member.DisplayName}};</script>"},
		{"{{.Member.Nickname}}", `<a href="{{.UnsubscribeURL}}">x</a>`},
		{"{{", "<p>{{.Member.Email"},
		{strings.Repeat("{{if .Community}}", 8) + strings.Repeat("{{end}}", 8), ""},
		{"{{range $i, $e := .Events}}{{$i}}{{end}}", "{{range .Vars}}{{.}}{{end}}"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, text, html string) {
		tmpl, err := NewTemplate("demo", "fuzz", []Variant{{Subject: "Subject", Text: text, HTML: html}}, time.Now())
		if err != nil {
			if !validate.IsInvalid(err) {
				t.Fatalf("NewTemplate(%q, %q) = %v, want field errors", text, html, err)
			}
			return
		}
		r, err := tmpl.Render(SampleData())
		if err != nil {
			t.Fatalf("a saved template fails on the data it was tried on: %v", err)
		}
		if len(r.Text) > MaxRenderBytes || len(r.HTML) > MaxRenderBytes {
			t.Fatalf("rendered %d/%d bytes, beyond the limit", len(r.Text), len(r.HTML))
		}
	})
}

// FuzzVerifyTokens feeds arbitrary strings to the link checks: no panic,
// and no token is good for both purposes.
func FuzzVerifyTokens(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now()
	f.Add(SignUnsubscribe(key, UnsubscribeToken{Community: "demo", MemberID: "m1", Purpose: PurposeAnnouncements, Expires: now.Add(time.Hour)}))
	f.Add(SignConfirm(key, ConfirmToken{Community: "demo", MemberID: "m1", MessageID: "x", Reason: ConfirmJoin, AddressHash: HashAddress("a@b.c"),
		Expires: now.Add(time.Hour)}))
	f.Add(SignConfirm(key, ConfirmToken{Community: "demo", MemberID: "m1", Reason: "bogus", Expires: now.Add(time.Hour)}))
	for _, s := range []string{"", ".", "a.b", "Yw.Yw", "YzF8ZGVtb3xtMXx4fGpvaW58aHx8MTc.AAAA", strings.Repeat("A", 5000) + "." + strings.Repeat("B", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		u, uerr := VerifyUnsubscribe(key, token, now)
		c, cerr := VerifyConfirm(key, token, now)
		if uerr == nil && cerr == nil {
			t.Fatalf("%q is both an unsubscribe (%+v) and a confirmation (%+v) token", token, u, c)
		}
		if cerr == nil && (c.Reason != ConfirmJoin && c.Reason != ConfirmEmailChange || c.Expires.Before(now)) {
			t.Fatalf("accepted confirmation %+v", c)
		}
		if uerr == nil && u.Expires.Before(now) {
			t.Fatalf("accepted expired unsubscribe %+v", u)
		}
	})
}
