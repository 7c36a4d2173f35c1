package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Templates the service sends on its own, created with a default the
// first time a community needs one; an organiser may replace them.
const (
	// TemplateEmailConfirmation carries the double opt-in link,
	// {{.ConfirmURL}}.
	TemplateEmailConfirmation = "email-confirmation"
	// TemplateAlreadyMember tells a member that someone asked to join with
	// their address.
	TemplateAlreadyMember = "already-member"
)

var defaultVariants = map[string]Variant{
	TemplateEmailConfirmation: {
		Subject: "Please confirm your address for {{.Community}}",
		Text: `Hi {{.Member.DisplayName}},

please confirm that {{.Member.Email}} is your address for {{.Community}}:

{{.ConfirmURL}}

Until you do, we send you nothing else. The link works for 7 days. If you
did not ask for this, ignore this message and nothing happens.
`,
	},
	TemplateAlreadyMember: {
		Subject: "You are already a member of {{.Community}}",
		Text: `Hi {{.Member.DisplayName}},

someone (probably you) asked to join {{.Community}} with this address. You
are already a member, so nothing has changed.

If it was not you, you can ignore this message.
`,
	},
}

// DefaultTemplate is the template the service creates for name when the
// community has none; ok is false for names without a default.
func DefaultTemplate(community, name string, now time.Time) (t Template, ok bool) {
	v, ok := defaultVariants[name]
	if !ok {
		return Template{}, false
	}
	return Template{Community: community, Name: name, Variants: []Variant{v}, UpdatedAt: now.UTC().Truncate(time.Microsecond)}, true
}

// requiredUse names what a template of a given name must use: the
// confirmation e-mail is useless without its link.
var requiredUse = map[string]string{TemplateEmailConfirmation: ".ConfirmURL"}

func checkRequiredUse(name string, i int, v Variant) *validate.FieldError {
	if use, ok := requiredUse[name]; ok && !strings.Contains(v.Text, use) {
		return validate.Field(fmt.Sprintf("variants[%d].text_body", i), "must contain {{%s}}: the template %s is sent for it", use, name)
	}
	return nil
}
