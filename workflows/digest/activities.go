package digest

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/activity"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Activities call the communications service. They never touch a
// database.
type Activities struct {
	Templates     communicationsv1connect.TemplatesServiceClient
	Announcements communicationsv1connect.AnnouncementsServiceClient
}

// TemplateInput names the digest template of a community.
type TemplateInput struct {
	Community string
	Template  string
}

// DigestInput is one digest announcement.
type DigestInput struct {
	Community      string
	Template       string
	IdempotencyKey string
}

// EnsureDigestTemplate creates the default digest template when the
// community has no template of that name; an organiser's own is kept.
func (a *Activities) EnsureDigestTemplate(ctx context.Context, in TemplateInput) error {
	created, err := templates.Ensure(ctx, a.Templates, in.Community, defaultTemplate(in.Template))
	if err != nil {
		return activityerr.Classify(err)
	}
	if created {
		activity.GetLogger(ctx).Info("created the default digest template", "community", in.Community, "template", in.Template)
	}
	return nil
}

// CreateDigest queues the digest for every member who consents to it. The
// idempotency key makes a repeated call return the first announcement.
func (a *Activities) CreateDigest(ctx context.Context, in DigestInput) (Result, error) {
	res, err := a.Announcements.CreateAnnouncement(ctx, connect.NewRequest(&communicationsv1.CreateAnnouncementRequest{
		Community:      in.Community,
		Template:       in.Template,
		Kind:           communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST,
		IdempotencyKey: in.IdempotencyKey,
	}))
	if err != nil {
		return Result{}, activityerr.Classify(fmt.Errorf("create digest announcement: %w", err))
	}
	ann := res.Msg.GetAnnouncement()
	return Result{AnnouncementID: ann.GetId(), IdempotencyKey: in.IdempotencyKey, Recipients: ann.GetRecipients()}, nil
}
