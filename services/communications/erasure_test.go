package communications_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

func TestForgetMemberErasesTheRecipientOnceAndIsIdempotent(t *testing.T) {
	ada, bob := recipient(1), recipient(2)
	f := start(t, options{recipients: recipients(3)})
	ctx := context.Background()
	for _, key := range []string{"note/1", "note/2"} {
		if _, err := f.client.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: key,
			MemberId: ada.MemberID, ToEmail: ada.Email, Subject: "A note for Ada", TextBody: "Dear Ada, thank you."})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.client.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "note/3",
		MemberId: bob.MemberID, ToEmail: bob.Email, Subject: "A note for Bob", TextBody: "Dear Bob."})); err != nil {
		t.Fatal(err)
	}

	worker := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	first, err := worker.ForgetMember(ctx, connect.NewRequest(&communicationsv1.ForgetMemberRequest{Community: "demo", MemberId: ada.MemberID}))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Msg.GetRecipientRemoved() || first.Msg.GetMessagesRedacted() != 2 || first.Msg.GetForgottenAt() == nil {
		t.Errorf("first ForgetMember = %v, want the recipient removed and 2 messages redacted", first.Msg)
	}
	if n := f.count(t, "SELECT count(*) FROM recipients WHERE member_id = ?", ada.MemberID); n != 0 {
		t.Errorf("recipient rows left: %d", n)
	}
	if n := f.count(t, "SELECT count(*) FROM messages WHERE member_id = ? AND (to_email <> '' OR subject <> '' OR text_body <> '')", ada.MemberID); n != 0 {
		t.Errorf("messages still holding address or content: %d", n)
	}
	if n := f.count(t, "SELECT count(*) FROM messages WHERE member_id = ?", ada.MemberID); n != 2 {
		t.Errorf("messages kept by id = %d, want 2", n)
	}
	if n := f.count(t, "SELECT count(*) FROM messages WHERE member_id = ? AND subject <> ''", bob.MemberID); n != 1 {
		t.Errorf("another member's messages = %d, want untouched", n)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE action = 'member.forgotten' AND target_id = ? AND actor_kind = 'workload'", ada.MemberID); n != 1 {
		t.Errorf("audit entries = %d, want 1", n)
	}

	again, err := worker.ForgetMember(ctx, connect.NewRequest(&communicationsv1.ForgetMemberRequest{Community: "demo", MemberId: ada.MemberID}))
	if err != nil {
		t.Fatal(err)
	}
	if again.Msg.GetRecipientRemoved() {
		t.Errorf("second ForgetMember = %v, want no recipient left to remove", again.Msg)
	}
	if n := f.count(t, "SELECT count(*) FROM messages WHERE member_id = ? AND to_email = ''", ada.MemberID); n != 2 {
		t.Errorf("redacted messages after the second call = %d, want still 2", n)
	}
	if n := f.count(t, "SELECT count(*) FROM recipients"); n != 2 {
		t.Errorf("recipients = %d, want the other 2 kept", n)
	}
}

func TestForgetMemberRefusesBadInput(t *testing.T) {
	elsewhere := recipient(9)
	elsewhere.Community = "other"
	f := start(t, options{recipients: append(recipients(1), elsewhere)})
	worker := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	for name, req := range map[string]*communicationsv1.ForgetMemberRequest{
		"no member":         {Community: "demo"},
		"unknown community": {Community: "elsewhere", MemberId: recipient(0).MemberID},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := worker.ForgetMember(context.Background(), connect.NewRequest(req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("ForgetMember(%v) = %v, want InvalidArgument", req, err)
			}
		})
	}
	// Forgetting in demo an id that is a member elsewhere forgets nothing
	// there: every query names demo.
	res, err := worker.ForgetMember(context.Background(), connect.NewRequest(&communicationsv1.ForgetMemberRequest{Community: "demo", MemberId: elsewhere.MemberID}))
	if err != nil || res.Msg.GetRecipientRemoved() {
		t.Errorf("ForgetMember of another community's member = %v, %v; want nothing removed", res, err)
	}
	if n := f.count(t, "SELECT count(*) FROM recipients WHERE member_id = ?", elsewhere.MemberID); n != 1 {
		t.Errorf("the other community's recipient was removed")
	}
}
