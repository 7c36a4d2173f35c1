package digest

import "github.com/kinshiphq/kinship/internal/templates"

// defaultTemplate is the digest a community gets until an organiser saves
// their own under the same name. {{.Events}} are the member's upcoming
// events (see docs/communications.md).
func defaultTemplate(name string) templates.Default {
	return templates.Default{
		Name:    name,
		Subject: "This week in {{.Community}}",
		TextBody: `Hi {{.Member.DisplayName}},

here is what is coming up in {{.Community}}:
{{range .Events}}
- {{.Title}}, {{.StartsAt}}{{if .URL}}
  Add it to your calendar: {{.URL}}{{end}}
{{end}}
See you there!

You get this digest every week. To stop it: {{.UnsubscribeURL}}
`,
	}
}
