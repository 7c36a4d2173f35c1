// Package templates makes sure a community has the message templates a
// workflow sends, creating a default one when an organiser has not made
// their own. An existing template is never overwritten.
package templates

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
)

// Default is a template to create when the community has none by its name.
type Default struct {
	Name     string
	Subject  string
	TextBody string
}

// Ensure creates d in community unless a template of that name exists. It
// reports whether it created it. Errors are the API's, unclassified.
func Ensure(ctx context.Context, c communicationsv1connect.TemplatesServiceClient, community string, d Default) (bool, error) {
	_, err := c.GetTemplate(ctx, connect.NewRequest(&communicationsv1.GetTemplateRequest{Community: community, Name: d.Name}))
	switch {
	case err == nil:
		return false, nil
	case connect.CodeOf(err) != connect.CodeNotFound:
		return false, fmt.Errorf("look up template %s: %w", d.Name, err)
	}
	_, err = c.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: community, Name: d.Name,
		Variants: []*communicationsv1.TemplateVariant{{Subject: d.Subject, TextBody: d.TextBody}}}))
	if err != nil {
		return false, fmt.Errorf("create template %s: %w", d.Name, err)
	}
	return true, nil
}
