package communications_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	memberdomain "github.com/kinshiphq/kinship/services/members/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// The recipients projection follows members.v1: joins, profile changes,
// consent, leaving and erasure, each applied once however often it is
// delivered.
func TestRecipientsProjectionFollowsMembersEvents(t *testing.T) {
	f := start(t, options{})
	ctx := context.Background()
	ev := memberevents.Factory{}
	must := func(e kafka.Event, err error) kafka.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ada := memberdomain.Member{ID: "ada", Community: "demo", EmailConsent: true, Status: memberdomain.StatusActive, JoinedAt: now,
		Profile: memberdomain.Profile{DisplayName: "Ada", Email: "ada@example.org", Locale: "en", TimeZone: "Europe/London", Interests: []string{"repair"}}}
	bob := memberdomain.Member{ID: "bob", Community: "demo", Status: memberdomain.StatusActive, JoinedAt: now,
		Profile: memberdomain.Profile{DisplayName: "Bob", Email: "bob@example.org"}}
	joined := must(ev.MemberJoined(ada))
	f.publish(t, joined, joined, must(ev.MemberJoined(bob))) // a redelivered join changes nothing
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

	ada.Email = "ada@lovelace.example"
	f.publish(t,
		must(ev.ProfileUpdated(ada, []string{"email"})),
		must(ev.ConsentChanged("demo", memberdomain.ConsentRecord{MemberID: "bob", Purpose: "email.digest", Granted: true, OccurredAt: now, Source: "form", PolicyVersion: "v1"})),
		must(ev.StatusChanged("demo", "bob", memberdomain.StatusActive, memberdomain.StatusLeft)),
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

	f.publish(t, must(ev.MemberErased("demo", "ada", time.Now())))
	eventually(t, "ada is erased", func() bool { return f.count(t, "SELECT count(*) FROM recipients WHERE member_id = 'ada'") == 0 })
	if n := f.count(t, "SELECT count(*) FROM messages WHERE member_id = 'ada' AND (to_email <> '' OR subject <> '' OR text_body <> '')"); n != 0 {
		t.Errorf("messages still holding ada's address or content = %d", n)
	}
}
