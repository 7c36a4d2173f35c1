package communications_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/services/communications/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

func confirmationRequested(t *testing.T, id, email, reason string) kafka.Event {
	t.Helper()
	return memberEvent(t, memberevents.TypeEmailConfirmationRequested, "demo", id, &membersv1.EmailConfirmationRequested{MemberId: id, Community: "demo",
		Email: email, Reason: reason, RequestedAt: timestamppb.Now()})
}

func emailConfirmed(t *testing.T, id, email, reason string) kafka.Event {
	t.Helper()
	return memberEvent(t, memberevents.TypeEmailConfirmed, "demo", id, &membersv1.EmailConfirmed{MemberId: id, Community: "demo",
		Email: email, Reason: reason, ConfirmedAt: timestamppb.Now()})
}

func joinRepeated(t *testing.T, id string) kafka.Event {
	t.Helper()
	return memberEvent(t, memberevents.TypeJoinRepeated, "demo", id, &membersv1.JoinRepeated{MemberId: id, Community: "demo", OccurredAt: timestamppb.Now()})
}

var confirmLink = regexp.MustCompile(`http://[^\s]+/confirm\?t=[A-Za-z0-9_.-]+`)

// link finds the confirmation link in the one e-mail to address.
func (f *fixture) link(t *testing.T, address string) string {
	t.Helper()
	msgs := f.sink.Messages(address)
	if len(msgs) != 1 {
		t.Fatalf("e-mails to %s = %d, want 1", address, len(msgs))
	}
	link := confirmLink.FindString(strings.ReplaceAll(msgs[0].Text, "=\r\n", ""))
	if link == "" {
		t.Fatalf("no confirmation link in %q", msgs[0].Text)
	}
	return link
}

func fetch(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (f *fixture) sendTo(t *testing.T, key, memberID string) *communicationsv1.Message {
	t.Helper()
	res, err := f.client.SendMessage(context.Background(), connect.NewRequest(&communicationsv1.SendMessageRequest{Community: "demo",
		IdempotencyKey: key, MemberId: memberID, Subject: "Welcome", TextBody: "Hello"}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetMessage()
}

// A public join: the member gets the confirmation e-mail and nothing
// else until they confirm; the link's page confirms only on its button,
// and only through the members service.
func TestAJoinIsConfirmedByTheLinkInTheEmail(t *testing.T) {
	f := start(t, options{})
	f.publish(t, joined(t, "nia", "nia@example.org", "Nia", false, false, nil), confirmationRequested(t, "nia", "nia@example.org", domain.ConfirmJoin))
	eventually(t, "the confirmation e-mail arrives", func() bool { return len(f.sink.Messages("nia@example.org")) == 1 })
	mail := f.sink.Messages("nia@example.org")[0]
	if mail.Subject != "Please confirm your address for demo" || !strings.Contains(mail.Text, "Hi Nia") {
		t.Errorf("confirmation e-mail = %q / %q", mail.Subject, mail.Text)
	}
	if n := f.count(t, "SELECT count(*) FROM templates WHERE community = 'demo' AND name = ?", domain.TemplateEmailConfirmation); n != 1 {
		t.Errorf("default confirmation templates = %d, want 1", n)
	}
	link := f.link(t, "nia@example.org")

	// Nothing else reaches an address not confirmed.
	if m := f.sendTo(t, "welcome/nia", "nia"); m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SUPPRESSED || m.GetFailureReason() != domain.ReasonNotConfirmed {
		t.Errorf("a message to an unconfirmed address = %v, want SUPPRESSED (%s)", m, domain.ReasonNotConfirmed)
	}

	// A link scanner's GET confirms nothing.
	if code, body := fetch(t, http.MethodGet, link); code != http.StatusOK || !strings.Contains(body, `method="post"`) {
		t.Fatalf("GET link = %d %s", code, body)
	}
	if calls := f.members.confirmed(); len(calls) != 0 {
		t.Fatalf("a GET confirmed: %v", calls)
	}
	// Links of one purpose never serve the other, nor do forgeries.
	unsub := f.url + "/unsubscribe?t=" + domain.SignUnsubscribe(unsubscribeKey, domain.UnsubscribeToken{Community: "demo", MemberID: "nia",
		Purpose: domain.PurposeAnnouncements, Expires: time.Now().Add(time.Hour)})
	token := strings.SplitN(link, "t=", 2)[1]
	for name, url := range map[string]string{
		"an unsubscribe token":        f.url + "/confirm?t=" + strings.SplitN(unsub, "t=", 2)[1],
		"a tampered token":            link[:len(link)-2] + "xx",
		"the token of another key":    f.url + "/confirm?t=" + domain.SignConfirm([]byte("another key, another instance 000"), domain.ConfirmToken{Community: "demo", MemberID: "nia", Reason: "join", Expires: time.Now().Add(time.Hour)}),
		"a confirm token unsubscribe": f.url + "/unsubscribe?t=" + token,
	} {
		if code, _ := fetch(t, http.MethodPost, url); code != http.StatusBadRequest {
			t.Errorf("POST with %s = %d, want 400", name, code)
		}
	}
	if calls := f.members.confirmed(); len(calls) != 0 {
		t.Fatalf("a bad link confirmed: %v", calls)
	}

	code, body := fetch(t, http.MethodPost, link)
	if code != http.StatusOK || !strings.Contains(body, "confirmed") {
		t.Fatalf("POST link = %d %s", code, body)
	}
	calls := f.members.confirmed()
	if len(calls) != 1 || calls[0].req.GetCommunity() != "demo" || calls[0].req.GetMemberId() != "nia" || calls[0].req.GetEmail() != "nia@example.org" ||
		calls[0].subject != authtest.WorkloadSubject {
		t.Fatalf("ConfirmEmail calls = %+v, want one for nia's address, as the workload", calls)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE action = 'email.confirmed' AND actor_kind = 'anonymous' AND target_id = 'nia'"); n != 1 {
		t.Errorf("audit entries of the confirmation = %d, want 1", n)
	}

	// The members service then publishes EmailConfirmed: mail flows.
	f.publish(t, emailConfirmed(t, "nia", "nia@example.org", domain.ConfirmJoin))
	eventually(t, "the projection marks the address confirmed", func() bool {
		return f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'nia' AND email_verified") == 1
	})
	if m := f.sendTo(t, "welcome/nia-2", "nia"); m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT {
		t.Errorf("a message after confirming = %v, want SENT", m)
	}
}

// An address change is confirmed at the new address; until then mail goes
// to the old, confirmed one. A link the members service no longer accepts
// says so.
func TestAnAddressChangeIsConfirmedAtTheNewAddress(t *testing.T) {
	f := start(t, options{recipients: []domain.Recipient{member("m1", "ada@old.example")}})
	f.publish(t, confirmationRequested(t, "m1", "ada@new.example", domain.ConfirmEmailChange))
	eventually(t, "the confirmation reaches the new address", func() bool { return len(f.sink.Messages("ada@new.example")) == 1 })
	if got := f.sink.Messages("ada@new.example")[0].Text; !strings.Contains(got, "ada@new.example is your address") {
		t.Errorf("the confirmation names %q", got)
	}
	if n := len(f.sink.Messages("ada@old.example")); n != 0 {
		t.Errorf("e-mails to the old address = %d", n)
	}
	if m := f.sendTo(t, "note/1", "m1"); m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT || len(f.sink.Messages("ada@old.example")) != 1 {
		t.Errorf("before confirming, mail = %v to the old address", m)
	}
	link := f.link(t, "ada@new.example")

	f.members.answerWith(func(*membersv1.ConfirmEmailRequest) error {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("not pending"))
	})
	if code, _ := fetch(t, http.MethodPost, link); code != http.StatusConflict {
		t.Errorf("a link the members service refuses = %d, want 409", code)
	}
	f.members.answerWith(nil)
	if code, _ := fetch(t, http.MethodPost, link); code != http.StatusOK {
		t.Fatalf("confirming = %d", code)
	}
	if calls := f.members.confirmed(); len(calls) != 2 || calls[1].req.GetEmail() != "ada@new.example" {
		t.Fatalf("ConfirmEmail calls = %+v", calls)
	}
	f.publish(t, emailConfirmed(t, "m1", "ada@new.example", domain.ConfirmEmailChange),
		memberEvent(t, memberevents.TypeProfileUpdated, "demo", "m1", &membersv1.ProfileUpdated{MemberId: "m1", Community: "demo", Changed: []string{"email"},
			Profile: &membersv1.Profile{Email: "ada@new.example", DisplayName: "Ada Lovelace"}}))
	eventually(t, "the new address is the member's", func() bool {
		return f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'm1' AND email = 'ada@new.example' AND email_verified") == 1
	})
	if m := f.sendTo(t, "note/2", "m1"); m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT || len(f.sink.Messages("ada@new.example")) != 2 {
		t.Errorf("after confirming, mail = %v, want it at the new address", m)
	}
}

// Joining with a member's address tells the member, once per event: a
// confirmed member that they are already in, one who never confirmed a
// fresh link. The organiser's own template wins over the default.
func TestAJoinWithAMembersAddressTellsTheMember(t *testing.T) {
	f := start(t, options{recipients: []domain.Recipient{member("m1", "ada@example.org")}})
	repeat := joinRepeated(t, "m1")
	f.publish(t, repeat, repeat) // redelivered
	eventually(t, "the member is told", func() bool { return len(f.sink.Messages("ada@example.org")) == 1 })
	if got := f.sink.Messages("ada@example.org")[0]; got.Subject != "You are already a member of demo" || confirmLink.MatchString(got.Text) {
		t.Errorf("already-member e-mail = %q / %q", got.Subject, got.Text)
	}

	saveTemplate(t, f, domain.TemplateAlreadyMember, &communicationsv1.TemplateVariant{Subject: "Welcome back, {{.Member.DisplayName}}", TextBody: "You are in."})
	f.publish(t, joinRepeated(t, "m1"))
	eventually(t, "the organiser's template is used", func() bool {
		return slices.ContainsFunc(f.sink.Messages("ada@example.org"), func(m smtpsink.Message) bool { return m.Subject == "Welcome back, Ada Lovelace" })
	})

	f.publish(t, joined(t, "nia", "nia@example.org", "Nia", false, false, nil), joinRepeated(t, "nia"))
	eventually(t, "an unconfirmed member gets a new link", func() bool { return len(f.sink.Messages("nia@example.org")) == 1 })
	f.link(t, "nia@example.org")
	time.Sleep(200 * time.Millisecond) // nothing more is on its way
	if n := len(f.sink.Messages("ada@example.org")); n != 2 {
		t.Errorf("e-mails to ada = %d, want 2 (the redelivery sent nothing)", n)
	}
}

func TestTheConfirmationTemplateMustCarryTheLink(t *testing.T) {
	f := start(t, options{})
	_, err := f.templates.SaveTemplate(context.Background(), connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: "demo",
		Name: domain.TemplateEmailConfirmation, Variants: []*communicationsv1.TemplateVariant{{Subject: "Confirm", TextBody: "Please confirm."}}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), []string{"variants[0].text_body"}) ||
		!strings.Contains(err.Error(), "ConfirmURL") {
		t.Errorf("a confirmation template without its link: %v", err)
	}
}
