package communications_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

var plainTemplate = []*communicationsv1.TemplateVariant{{Subject: "News", TextBody: "Hello {{.Member.DisplayName}}"}}

// A withdrawal processed while a 10,000-member announcement is going out
// stops every message to that member not yet sent.
func TestConsentWithdrawalStopsAnAnnouncementInProgress(t *testing.T) {
	const members = 10_000
	f := start(t, options{recipients: recipients(members), emailPerSecond: 2000})
	ctx := context.Background()
	saveTemplate(t, f, "news", plainTemplate...)
	a := announce(t, f, "big", &communicationsv1.CreateAnnouncementRequest{Template: "news"})
	if a.GetRecipients() != members {
		t.Fatalf("recipients = %d, want %d", a.GetRecipients(), members)
	}
	eventually(t, "the announcement is under way", func() bool { return len(f.sink.Messages("")) >= 100 })

	// The last member in sending order withdraws, through the members
	// service's event, as the members service would publish it.
	victim := recipient(members - 1)
	f.publish(t, consentChanged(t, victim.MemberID, domain.PurposeAnnouncements, false))
	eventually(t, "the projection applies the withdrawal", func() bool {
		return f.count(t, "SELECT count(*) FROM recipient_consents WHERE member_id = ? AND purpose = ?", victim.MemberID, domain.PurposeAnnouncements) == 0
	})
	processed := time.Now()
	if sent := len(f.sink.Messages("")); sent >= members {
		t.Fatalf("all %d e-mails were out before the withdrawal was processed; the test proves nothing", sent)
	}

	eventuallyWithin(t, 3*time.Minute, "the announcement completes", func() bool { // 10,000 e-mails over SMTP
		res, err := f.announcements.GetAnnouncement(ctx, connect.NewRequest(&communicationsv1.GetAnnouncementRequest{Community: "demo", Id: a.GetId()}))
		return err == nil && res.Msg.GetAnnouncement().GetPending() == 0
	})
	for _, m := range f.sink.Messages(victim.Email) {
		if m.ReceivedAt.After(processed) {
			t.Errorf("an e-mail reached %s at %v, after the withdrawal was processed at %v", victim.Email, m.ReceivedAt, processed)
		}
	}
	res, err := f.announcements.GetAnnouncement(ctx, connect.NewRequest(&communicationsv1.GetAnnouncementRequest{Community: "demo", Id: a.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	got := res.Msg.GetAnnouncement()
	if got.GetSent() != members-1 || got.GetSuppressed() != 1 {
		t.Errorf("sent %d, suppressed %d; want %d and 1", got.GetSent(), got.GetSuppressed(), members-1)
	}
	if n := len(f.sink.Messages("")); n != members-1 {
		t.Errorf("e-mails in the sink = %d, want %d", n, members-1)
	}
	log, err := f.client.ListDeliveries(ctx, connect.NewRequest(&communicationsv1.ListDeliveriesRequest{Community: "demo", MemberId: victim.MemberID}))
	if err != nil {
		t.Fatal(err)
	}
	if ms := log.Msg.GetMessages(); len(ms) != 1 || ms[0].GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SUPPRESSED || ms[0].GetFailureReason() != domain.ReasonNoConsent {
		t.Errorf("the victim's delivery log = %v, want one message suppressed for %q", ms, domain.ReasonNoConsent)
	}
}

// Announcements wait for the end of each recipient's quiet hours;
// transactional mail does not.
func TestQuietHoursHoldAnnouncementsButNotTransactionalMail(t *testing.T) {
	now := time.Now().UTC()
	quiet := fmt.Sprintf("%s-%s", now.Add(-time.Hour).Format("15:04"), now.Add(time.Hour).Format("15:04"))
	sleeper, awake := recipient(0), recipient(1)
	sleeper.TimeZone, awake.TimeZone = "UTC", "Etc/GMT-12" // UTC+12: twelve hours later, outside the window
	f := start(t, options{recipients: []domain.Recipient{sleeper, awake}, quietHours: quiet})
	ctx := context.Background()
	saveTemplate(t, f, "news", plainTemplate...)
	announce(t, f, "evening", &communicationsv1.CreateAnnouncementRequest{Template: "news"})
	eventually(t, "the awake member's e-mail arrives", func() bool { return len(f.sink.Messages(awake.Email)) == 1 })

	// The hold is recorded with the rest of its batch, once the batch is done.
	var ms []*communicationsv1.Message
	eventually(t, "the sleeper's message is held", func() bool {
		log, err := f.client.ListDeliveries(ctx, connect.NewRequest(&communicationsv1.ListDeliveriesRequest{Community: "demo", MemberId: sleeper.MemberID}))
		if err != nil {
			t.Fatal(err)
		}
		ms = log.Msg.GetMessages()
		return len(ms) != 1 || ms[0].GetFailureReason() != ""
	})
	if len(ms) != 1 || ms[0].GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_PENDING {
		t.Fatalf("the sleeper's log = %v, want one pending message", ms)
	}
	if due := ms[0].GetDueAt().AsTime(); due.Before(now.Add(59*time.Minute)) || due.After(now.Add(61*time.Minute)) {
		t.Errorf("held until %v, want the end of quiet hours near %v", due, now.Add(time.Hour))
	}
	if n := len(f.sink.Messages(sleeper.Email)); n != 0 {
		t.Errorf("e-mails to the sleeper during quiet hours = %d", n)
	}
	res, err := f.client.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "rsvp/1",
		MemberId: sleeper.MemberID, ToEmail: sleeper.Email, Subject: "Your RSVP", TextBody: "See you there"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT {
		t.Errorf("transactional mail in quiet hours = %v, want SENT", res.Msg.GetMessage().GetStatus())
	}
}

func TestAnnouncementAndTemplateBadInput(t *testing.T) {
	f := start(t, options{recipients: recipients(3)})
	ctx := context.Background()
	saveTemplate(t, f, "news", plainTemplate...)

	templates := map[string]struct {
		variants []*communicationsv1.TemplateVariant
		field    string
		mentions string
	}{
		"syntax error": {[]*communicationsv1.TemplateVariant{{Subject: "Hi", TextBody: "Hello\n{{.Member.DisplayName"}}, "variants[0].text_body", "line 2"},
		"unknown field": {[]*communicationsv1.TemplateVariant{{Subject: "Hi", TextBody: "Hi", HtmlBody: "<p>\n\n{{.Member.Nickname}}</p>"}},
			"variants[0].html_body", "line 3"},
		"no fallback": {[]*communicationsv1.TemplateVariant{{Locale: "de", Subject: "Hallo", TextBody: "Hallo"}}, "variants", "fallback"},
		"bad locale":  {[]*communicationsv1.TemplateVariant{{Subject: "Hi", TextBody: "Hi"}, {Locale: "not a locale!", Subject: "Hi", TextBody: "Hi"}}, "variants[1].locale", "BCP 47"},
		"subject break": {[]*communicationsv1.TemplateVariant{{Subject: "Hi{{\"\\n\"}}Bcc: x@example.org", TextBody: "Hi"}},
			"variants[0].subject", "line break"},
		// Finding 4 of issue 14: refused at once, the limit named.
		"range over an integer": {[]*communicationsv1.TemplateVariant{{Subject: "Hi", TextBody: "{{range 1000000000}}x{{end}}"}},
			"variants[0].text_body", "not 1000000000 (the limit: no range over numbers"},
		"ranges nested too deep": {[]*communicationsv1.TemplateVariant{{Subject: "Hi", TextBody: "Hi",
			HtmlBody: "{{range .Events}}{{range $.Events}}{{range $.Events}}x{{end}}{{end}}{{end}}"}}, "variants[0].html_body", "ranges nest deeper than 2 (the limit)"},
	}
	for name, tt := range templates {
		t.Run("template "+name, func(t *testing.T) {
			_, err := f.templates.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: "demo", Name: "bad", Variants: tt.variants}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			fields := rpc.FieldViolations(err)
			if !slices.Contains(fields, tt.field) || !containsText(err, tt.mentions) {
				t.Errorf("error = %v (fields %v), want field %s mentioning %q", err, fields, tt.field, tt.mentions)
			}
			// A preview of the same unsaved variants is checked the same way.
			_, err = f.templates.PreviewTemplate(ctx, connect.NewRequest(&communicationsv1.PreviewTemplateRequest{Community: "demo", Name: "bad", Variants: tt.variants}))
			if fields := rpc.FieldViolations(err); connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Contains(fields, tt.field) || !containsText(err, tt.mentions) {
				t.Errorf("preview of the draft = %v (fields %v), want InvalidArgument on %s mentioning %q", err, fields, tt.field, tt.mentions)
			}
		})
	}

	announcements := map[string]struct {
		req   *communicationsv1.CreateAnnouncementRequest
		field string
	}{
		"send_at in the past": {&communicationsv1.CreateAnnouncementRequest{Template: "news", SendAt: timestamppb.New(time.Now().Add(-time.Hour))}, "send_at"},
		"empty segment": {&communicationsv1.CreateAnnouncementRequest{Template: "news",
			Filter: &membersv1.SegmentFilter{Interests: []string{"underwater-basket-weaving"}}}, "filter"},
		"unknown template": {&communicationsv1.CreateAnnouncementRequest{Template: "missing"}, "template"},
		"bad filter":       {&communicationsv1.CreateAnnouncementRequest{Template: "news", Filter: &membersv1.SegmentFilter{CountryCodes: []string{"Narnia"}}}, "filter.country_codes"},
	}
	for name, tt := range announcements {
		t.Run("announcement "+name, func(t *testing.T) {
			tt.req.Community, tt.req.IdempotencyKey = "demo", "bad-"+strings.ReplaceAll(name, " ", "-")
			_, err := f.announcements.CreateAnnouncement(ctx, connect.NewRequest(tt.req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			if fields := rpc.FieldViolations(err); !slices.Contains(fields, tt.field) {
				t.Errorf("field violations = %v, want %s", fields, tt.field)
			}
		})
	}
	if n := f.count(t, "SELECT count(*) FROM messages"); n != 0 {
		t.Errorf("messages stored = %d, want 0", n)
	}
}

func containsText(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// The console's announcements page lists announcements newest first, page
// by page, shows the quiet hours that hold them, and previews a template
// edit before it is saved — without saving it.
func TestAnnouncementsListQuietHoursAndDraftPreview(t *testing.T) {
	f := start(t, options{recipients: recipients(3), quietHours: "22:30-07:15"})
	ctx := context.Background()
	saveTemplate(t, f, "news", plainTemplate...)
	var ids []string
	for i := range 3 {
		ids = append(ids, announce(t, f, fmt.Sprintf("list-%d", i), &communicationsv1.CreateAnnouncementRequest{Template: "news"}).GetId())
	}
	var listed []string
	token := ""
	for range 3 {
		res, err := f.announcements.ListAnnouncements(ctx, connect.NewRequest(&communicationsv1.ListAnnouncementsRequest{Community: "demo", PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Msg.GetAnnouncements() {
			listed = append(listed, a.GetId())
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	if want := []string{ids[2], ids[1], ids[0]}; !slices.Equal(listed, want) {
		t.Errorf("listed %v, want newest first %v", listed, want)
	}
	if _, err := f.announcements.ListAnnouncements(ctx, connect.NewRequest(&communicationsv1.ListAnnouncementsRequest{Community: "demo", PageSize: 501})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("page_size 501 = %v, want InvalidArgument", err)
	}

	policy, err := f.announcements.GetSendingPolicy(ctx, connect.NewRequest(&communicationsv1.GetSendingPolicyRequest{Community: "demo"}))
	if err != nil || policy.Msg.GetQuietHoursStart() != "22:30" || policy.Msg.GetQuietHoursEnd() != "07:15" {
		t.Errorf("sending policy = %v, %v; want 22:30 to 07:15", policy, err)
	}

	draft := []*communicationsv1.TemplateVariant{{Subject: "Draft for {{.Member.DisplayName}}", TextBody: "Unsaved {{.Vars.topic}}"}}
	preview, err := f.templates.PreviewTemplate(ctx, connect.NewRequest(&communicationsv1.PreviewTemplateRequest{Community: "demo", Name: "news",
		Variants: draft, Variables: map[string]string{"topic": "repair café"}}))
	if err != nil || !strings.HasPrefix(preview.Msg.GetSubject(), "Draft for ") || preview.Msg.GetTextBody() != "Unsaved repair café" {
		t.Fatalf("draft preview = %v, %v", preview, err)
	}
	saved, err := f.templates.GetTemplate(ctx, connect.NewRequest(&communicationsv1.GetTemplateRequest{Community: "demo", Name: "news"}))
	if err != nil || strings.HasPrefix(saved.Msg.GetTemplate().GetVariants()[0].GetSubject(), "Draft") {
		t.Errorf("the saved template after a draft preview = %v, %v; want it unchanged", saved, err)
	}
	if _, err := f.templates.PreviewTemplate(ctx, connect.NewRequest(&communicationsv1.PreviewTemplateRequest{Community: "demo", Name: "never-saved",
		Variants: draft})); err != nil {
		t.Errorf("a draft of a template never saved = %v, want it rendered", err)
	}
	if _, err := f.templates.GetTemplate(ctx, connect.NewRequest(&communicationsv1.GetTemplateRequest{Community: "demo", Name: "never-saved"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("the never-saved template after its preview = %v, want NotFound", err)
	}
}
