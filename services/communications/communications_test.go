package communications_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	_ "modernc.org/sqlite"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
)

func send(key, to string) *connect.Request[communicationsv1.SendMessageRequest] {
	return connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community: "demo", IdempotencyKey: key, MemberId: "m1", ToEmail: to, Subject: "Welcome to demo", TextBody: "Hello Ada",
	})
}

func TestSendMessageDeliversOncePerKey(t *testing.T) {
	f := start(t, options{recipients: []domain.Recipient{member("m1", "ada@example.org")}})
	ctx := context.Background()
	first, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT || first.Msg.GetMessage().GetSentAt() == nil {
		t.Fatalf("first send = %v, want SENT", first.Msg.GetMessage())
	}
	second, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Msg.GetMessage().GetId() != first.Msg.GetMessage().GetId() {
		t.Errorf("repeat returned message %s, want the original %s", second.Msg.GetMessage().GetId(), first.Msg.GetMessage().GetId())
	}
	got := f.sink.Messages("ada@example.org")
	if len(got) != 1 {
		t.Fatalf("e-mails in the sink = %d, want 1", len(got))
	}
	if !strings.HasPrefix(got[0].MessageID, first.Msg.GetMessage().GetId()+"@") || got[0].Subject != "Welcome to demo" {
		t.Errorf("delivered %+v", got[0])
	}

	_, err = f.client.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community: "demo", IdempotencyKey: "welcome/m1", MemberId: "m1", ToEmail: "ada@example.org", Subject: "Other", TextBody: "Other",
	}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("key reused for another message: %v, want FailedPrecondition", err)
	}

	eventually(t, "MessageSent reaches the topic", func() bool { return len(f.topicEvents(t)) == 1 })
	if e := f.topicEvents(t)[0]; e.Type != events.TypeMessageSent {
		t.Errorf("event type = %s, want MessageSent", e.Type)
	}
}

func TestRefusedRecipientIsRecordedAndNeverRetried(t *testing.T) {
	f := start(t, options{recipients: []domain.Recipient{member("m1", "gone@example.org")}})
	ctx := context.Background()
	for range 2 {
		res, err := f.client.SendMessage(ctx, send("welcome/gone", "gone@example.org"))
		if err != nil {
			t.Fatal(err)
		}
		m := res.Msg.GetMessage()
		if m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED || !strings.Contains(m.GetFailureReason(), "550") {
			t.Fatalf("send to a refused recipient = %v, want FAILED with the 550 reply", m)
		}
	}
	if n := f.count(t, "SELECT attempts FROM messages"); n != 1 {
		t.Errorf("delivery attempts = %d, want 1", n)
	}
}

func TestUnreachableMailServerAsksForRetryAndTheRetryDelivers(t *testing.T) {
	f := start(t, options{noSink: true, recipients: []domain.Recipient{member("m1", "ada@example.org")}})
	ctx := context.Background()
	_, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("send with the mail server down: %v, want Unavailable", err)
	}
	ln, err := net.Listen("tcp", f.smtpAddr)
	if err != nil {
		t.Fatalf("rebind the mail server port %s: %v", f.smtpAddr, err)
	}
	f.serveSink(t, ln)
	res, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT {
		t.Errorf("retry = %v, want SENT", res.Msg.GetMessage())
	}
	if n := len(f.sink.Messages("ada@example.org")); n != 1 {
		t.Errorf("e-mails = %d, want 1", n)
	}
}

func TestBadInputIsRefusedAndNothingIsSent(t *testing.T) {
	f := start(t, options{recipients: []domain.Recipient{member("m1", "a@example.org")}})
	// The workload token is not confined to a community, so an unknown
	// community reaches validation.
	workload := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	tests := map[string]struct {
		req   *communicationsv1.SendMessageRequest
		field string
	}{
		"bad recipient":     {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "x", Subject: "s", TextBody: "t"}, "to_email"},
		"no key":            {&communicationsv1.SendMessageRequest{Community: "demo", MemberId: "m1", ToEmail: "a@example.org", Subject: "s", TextBody: "t"}, "idempotency_key"},
		"unknown community": {&communicationsv1.SendMessageRequest{Community: "elsewhere", IdempotencyKey: "k", MemberId: "m1", ToEmail: "a@example.org", Subject: "s", TextBody: "t"}, "community"},
		"header injection":  {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "a@example.org", Subject: "s\r\nBcc: b@example.org", TextBody: "t"}, "subject"},
		"display name only": {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "Ada Lovelace", Subject: "s", TextBody: "t"}, "to_email"},
		"unknown template":  {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "a@example.org", Template: "nope"}, "template"},
		"bad variable name": {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "a@example.org", Template: "nope", Variables: map[string]string{"not a name": "x"}}, "variables"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := workload.SendMessage(context.Background(), connect.NewRequest(tt.req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("field violations = %v, want [%s]", fields, tt.field)
			}
		})
	}
	if n := f.count(t, "SELECT count(*) FROM messages"); n != 0 {
		t.Errorf("messages stored = %d, want 0", n)
	}
	if n := len(f.sink.Messages("")); n != 0 {
		t.Errorf("e-mails sent = %d, want 0", n)
	}
}
