package communications_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// The recipients projection follows members.v1: joins, profile changes,
// consent, leaving and erasure, each applied once however often it is
// delivered.
func TestRecipientsProjectionFollowsMembersEvents(t *testing.T) {
	f := start(t, options{})
	ctx := context.Background()
	adaJoined := joined(t, "ada", "ada@example.org", "Ada", true, true,
		&membersv1.Profile{Locale: "en", TimeZone: "Europe/London", Interests: []string{"repair"}})
	f.publish(t, adaJoined, adaJoined, joined(t, "bob", "bob@example.org", "Bob", true, false, nil)) // a redelivered join changes nothing
	eventually(t, "both members are recipients", func() bool { return f.count(t, "SELECT count(*) FROM recipients") == 2 })

	prefs := func(id string) *communicationsv1.Preferences {
		t.Helper()
		res, err := f.announcements.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: "demo", MemberId: id}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetPreferences()
	}
	if p := prefs("ada"); !p.GetAnnouncements() || p.GetDigest() {
		t.Errorf("ada's preferences = %v, want announcements only", p)
	}
	if p := prefs("bob"); p.GetAnnouncements() {
		t.Errorf("bob never consented but gets announcements")
	}

	f.publish(t,
		memberEvent(t, memberevents.TypeProfileUpdated, "demo", "ada", &membersv1.ProfileUpdated{MemberId: "ada", Community: "demo", Changed: []string{"email"},
			Profile: &membersv1.Profile{Email: "ada@lovelace.example", DisplayName: "Ada", Locale: "en", TimeZone: "Europe/London", Interests: []string{"repair"}}}),
		consentChanged(t, "bob", "email.digest", true),
		memberEvent(t, memberevents.TypeStatusChanged, "demo", "bob", &membersv1.StatusChanged{MemberId: "bob", Community: "demo",
			FromStatus: membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, ToStatus: membersv1.MemberStatus_MEMBER_STATUS_LEFT}),
	)
	eventually(t, "the changes apply", func() bool {
		return f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'ada' AND email = 'ada@lovelace.example'") == 1 &&
			f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'bob' AND status = 'left'") == 1
	})
	if !prefs("bob").GetDigest() {
		t.Error("bob's digest consent did not arrive")
	}
	saveTemplate(t, f, "news", plainTemplate...)
	if a := announce(t, f, "after-leave", &communicationsv1.CreateAnnouncementRequest{Template: "news"}); a.GetRecipients() != 1 {
		t.Errorf("announcement recipients = %d, want ada only", a.GetRecipients())
	}
	eventually(t, "ada's e-mail goes to her new address", func() bool { return len(f.sink.Messages("ada@lovelace.example")) == 1 })

	f.publish(t, memberEvent(t, memberevents.TypeMemberErased, "demo", "ada", &membersv1.MemberErased{MemberId: "ada", Community: "demo", ErasedAt: timestamppb.Now()}))
	eventually(t, "ada is erased", func() bool { return f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'ada'") == 0 })
	if n := f.count(t, "SELECT count(*) FROM messages WHERE member_id = 'ada' AND (to_email <> '' OR subject <> '' OR text_body <> '')"); n != 0 {
		t.Errorf("messages still holding ada's address or content = %d", n)
	}
}

// An event whose payload names another community than its topic is not
// applied: a members.v1 topic speaks for its community only.
func TestProjectionIgnoresEventsForAnotherCommunity(t *testing.T) {
	f := start(t, options{communities: []string{"demo", "other"}})
	forged := joined(t, "eve", "eve@example.org", "Eve", true, true, nil)
	forged.Topic = memberevents.Topic("other") // demo's payload on other's topic
	f.publish(t, forged, joined(t, "ada", "ada@example.org", "Ada", true, true, nil))
	eventually(t, "ada's join applies", func() bool { return f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'ada'") == 1 })
	eventually(t, "the forged join is dead-lettered", func() bool { return f.deadLetters(t, memberevents.Topic("other")) == 1 })
	if n := f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'eve'"); n != 0 {
		t.Errorf("a join for demo published on other's topic was applied")
	}
}
