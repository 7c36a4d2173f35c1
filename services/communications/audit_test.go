package communications_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

func TestEveryMutatingRPCHasAnAuditEntry(t *testing.T) {
	audittest.CheckCovered(t, api.Catalogue(),
		communicationsv1.File_kinship_communications_v1_communications_proto.Services().ByName("CommunicationsService"),
		communicationsv1.File_kinship_communications_v1_templates_proto.Services().ByName("TemplatesService"),
		communicationsv1.File_kinship_communications_v1_announcements_proto.Services().ByName("AnnouncementsService"),
		communicationsv1.File_kinship_communications_v1_subscriptions_proto.Services().ByName("SubscriptionsService"))
}

// Each mutating RPC, called successfully, records its catalogue's actions
// in the service's audit log — read through the AuditService — with ids
// only.
func TestEachMutatingRPCRecordsItsActions(t *testing.T) {
	ada := member("m1", "ada@example.org")
	f := start(t, options{recipients: []domain.Recipient{ada}})
	ctx := context.Background()
	log := auditv1connect.NewAuditServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.For(t, "demo", "organiser")))
	worker := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	pii := []string{ada.Email, ada.DisplayName}
	var messageID, webhookID, announcementID, subscriptionID string
	subscriptions := communicationsv1connect.NewSubscriptionsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.For(t, "demo", "organiser")))
	steps := []struct {
		procedure string
		call      func(t *testing.T) error
	}{
		{communicationsv1connect.TemplatesServiceSaveTemplateProcedure, func(t *testing.T) error {
			_, err := f.templates.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: "demo", Name: "news", Variants: plainTemplate}))
			return err
		}},
		{communicationsv1connect.CommunicationsServiceSendMessageProcedure, func(t *testing.T) error {
			res, err := f.client.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "audit/1",
				MemberId: ada.MemberID, Subject: "Hello", TextBody: "Hello Ada"}))
			messageID = res.Msg.GetMessage().GetId()
			return err
		}},
		{communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure, func(t *testing.T) error {
			res, err := f.announcements.CreateWebhook(ctx, connect.NewRequest(&communicationsv1.CreateWebhookRequest{Community: "demo",
				Url: "http://127.0.0.1:1/hook", Format: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC}))
			webhookID = res.Msg.GetWebhook().GetId()
			return err
		}},
		{communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure, func(t *testing.T) error {
			res, err := f.announcements.CreateAnnouncement(ctx, connect.NewRequest(&communicationsv1.CreateAnnouncementRequest{Community: "demo",
				Template: "news", IdempotencyKey: "audit-news", SendAt: timestamppb.New(time.Now().Add(time.Hour))}))
			announcementID = res.Msg.GetAnnouncement().GetId()
			return err
		}},
		{communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure, func(t *testing.T) error {
			_, err := f.announcements.CancelAnnouncement(ctx, connect.NewRequest(&communicationsv1.CancelAnnouncementRequest{Community: "demo", Id: announcementID}))
			return err
		}},
		{communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure, func(t *testing.T) error {
			_, err := f.announcements.DeleteWebhook(ctx, connect.NewRequest(&communicationsv1.DeleteWebhookRequest{Community: "demo", Id: webhookID}))
			return err
		}},
		{communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure, func(t *testing.T) error {
			_, err := f.announcements.SetPreferences(ctx, connect.NewRequest(&communicationsv1.SetPreferencesRequest{Community: "demo", MemberId: ada.MemberID,
				Preferences: &communicationsv1.Preferences{Announcements: false, Digest: true}}))
			return err
		}},
		{communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure, func(t *testing.T) error {
			if code := f.postBounce(t, f.bounceToken, `{"community":"demo","message_id":"<`+messageID+`@kinship.test>","hard":true}`); code != http.StatusNoContent {
				t.Fatalf("bounce = %d", code)
			}
			_, err := f.announcements.RemoveSuppression(ctx, connect.NewRequest(&communicationsv1.RemoveSuppressionRequest{Community: "demo", Email: ada.Email}))
			return err
		}},
		{communicationsv1connect.TemplatesServiceDeleteTemplateProcedure, func(t *testing.T) error {
			_, err := f.templates.DeleteTemplate(ctx, connect.NewRequest(&communicationsv1.DeleteTemplateRequest{Community: "demo", Name: "news"}))
			return err
		}},
		{communicationsv1connect.SubscriptionsServiceCreateSubscriptionProcedure, func(t *testing.T) error {
			res, err := subscriptions.CreateSubscription(ctx, connect.NewRequest(&communicationsv1.CreateSubscriptionRequest{Community: "demo",
				Url: "http://127.0.0.1:1/events", EventTypes: []string{"member.joined"}}))
			subscriptionID = res.Msg.GetSubscription().GetId()
			return err
		}},
		{communicationsv1connect.SubscriptionsServiceRotateSubscriptionSecretProcedure, func(t *testing.T) error {
			_, err := subscriptions.RotateSubscriptionSecret(ctx, connect.NewRequest(&communicationsv1.RotateSubscriptionSecretRequest{Community: "demo", Id: subscriptionID}))
			return err
		}},
		{communicationsv1connect.SubscriptionsServiceReplaySubscriptionDeliveryProcedure, func(t *testing.T) error {
			f.publish(t, joined(t, "m2", "bea@example.org", "Bea", true, true, nil))
			var deliveryID string
			eventually(t, "the join is queued for the subscription", func() bool {
				res, err := subscriptions.ListSubscriptionDeliveries(ctx, connect.NewRequest(&communicationsv1.ListSubscriptionDeliveriesRequest{Community: "demo",
					SubscriptionId: subscriptionID}))
				if err != nil || len(res.Msg.GetDeliveries()) == 0 {
					return false
				}
				deliveryID = res.Msg.GetDeliveries()[0].GetId()
				return true
			})
			_, err := subscriptions.ReplaySubscriptionDelivery(ctx, connect.NewRequest(&communicationsv1.ReplaySubscriptionDeliveryRequest{Community: "demo", Id: deliveryID}))
			return err
		}},
		{communicationsv1connect.SubscriptionsServiceDeleteSubscriptionProcedure, func(t *testing.T) error {
			_, err := subscriptions.DeleteSubscription(ctx, connect.NewRequest(&communicationsv1.DeleteSubscriptionRequest{Community: "demo", Id: subscriptionID}))
			return err
		}},
		{communicationsv1connect.CommunicationsServiceForgetMemberProcedure, func(t *testing.T) error {
			_, err := worker.ForgetMember(ctx, connect.NewRequest(&communicationsv1.ForgetMemberRequest{Community: "demo", MemberId: ada.MemberID}))
			return err
		}},
	}
	catalogue := api.Catalogue()
	var done []string
	for _, step := range steps {
		t.Run(step.procedure, func(t *testing.T) {
			mark := audittest.Mark(t, log, "demo")
			if err := step.call(t); err != nil {
				t.Fatalf("%s: %v", step.procedure, err)
			}
			mark.Expect(t, step.procedure, catalogue[step.procedure], pii...)
		})
		done = append(done, step.procedure)
	}
	if want := slices.Sorted(maps.Keys(catalogue)); !slices.Equal(slices.Sorted(slices.Values(done)), want) {
		t.Errorf("the table performs %v, the catalogue names %v: add a step for each", done, want)
	}

	// The public endpoints record anonymous entries: the bounce above.
	entries, err := log.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: "demo", PageSize: 100}))
	if err != nil {
		t.Fatal(err)
	}
	var bounced bool
	for _, e := range entries.Msg.GetEntries() {
		if e.GetService() != "communications" {
			t.Errorf("entry %s names service %q", e.GetAction(), e.GetService())
		}
		if e.GetAction() == "message.bounced" && e.GetActorKind() == "anonymous" && e.GetTargetId() == messageID {
			bounced = true
		}
		for _, v := range pii {
			if strings.Contains(e.GetTargetId()+e.GetActorId()+e.GetTargetType(), v) {
				t.Errorf("entry %s holds personal data", e.GetAction())
			}
		}
	}
	if !bounced {
		t.Error("the bounce report left no anonymous entry")
	}
}
