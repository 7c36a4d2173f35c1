package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

func TestIntegrationsStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("deliveries, matching and kept activity", func(t *testing.T) { testIngest(t, engine) })
			t.Run("referrals", func(t *testing.T) { testReferrals(t, engine) })
			t.Run("source weights in the review", func(t *testing.T) { testSourceWeights(t, engine) })
		})
	}
}

func incoming(typ, key string, at time.Time, who domain.Identity) store.Incoming {
	return store.Incoming{Who: who, Activity: domain.Activity{Community: "demo", Type: typ, OccurredAt: at.UTC().Truncate(time.Microsecond),
		SourceEventID: "forum/" + key, Source: "forum", Properties: map[string]string{"topic_id": "7"}}}
}

func testIngest(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	f.s.WithLevelEvents(events.Factory{})
	settings := domain.DefaultSettings("demo")
	settings.SourceWeights = map[string]int{"forum": 2}
	verified := func(m domain.Member) domain.Member { m.EmailVerified = true; return m }
	ada := f.create(t, verified(newMember(t, "demo", "ada@example.org")))
	theirs := f.create(t, verified(newMember(t, "other", "ada@example.org")))
	src := domain.ActivitySource{Community: "demo", Name: "forum", Kind: domain.SourceDiscourse, Secret: "s", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := f.s.CreateSource(f.ctx, src, "organiser-1", f.log); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateSource(f.ctx, src, "organiser-1", f.log); !errors.Is(err, domain.ErrSourceExists) {
		t.Errorf("the same source twice = %v", err)
	}
	if _, err := f.s.Source(f.ctx, "other", "forum"); !errors.Is(err, domain.ErrSourceNotFound) {
		t.Errorf("demo's source read as other's = %v", err)
	}
	now := time.Now()
	d := func(id string) domain.Delivery {
		return domain.Delivery{Community: "demo", Source: "forum", DeliveryID: id, Event: "post_created", ReceivedAt: now.UTC().Truncate(time.Microsecond)}
	}
	byEmail := domain.Identity{Email: "ada@example.org"}
	byHandle := domain.Identity{Provider: "forum", Handle: "Ada_L"}

	got, dup, err := f.s.Ingest(f.ctx, d("1"), []store.Incoming{incoming("posted", "post/1", now, byEmail), incoming("posted", "post/2", now, byHandle)}, settings, f.log)
	if err != nil || dup || got.Recorded != 1 || got.Unmatched != 1 || got.Outcome != domain.DeliveryUnmatched {
		t.Fatalf("first delivery = %+v dup=%v %v", got, dup, err)
	}
	again, dup, err := f.s.Ingest(f.ctx, d("1"), []store.Incoming{incoming("posted", "post/9", now, byEmail)}, settings, f.log)
	if err != nil || !dup || again.Recorded != 1 || again.Unmatched != 1 {
		t.Errorf("the same delivery id again = %+v dup=%v %v; want it answered as before", again, dup, err)
	}
	// The other community's member with the same address got nothing.
	if eng, _ := f.s.Engagement(f.ctx, "other", theirs.ID, settings); len(eng.Recent) != 0 {
		t.Errorf("other's member got %v", eng.Recent)
	}
	eng, err := f.s.Engagement(f.ctx, "demo", ada.ID, settings)
	if err != nil || len(eng.Recent) != 1 || eng.Score != 2 || eng.Recent[0].Source != "forum" || eng.Recent[0].Properties["topic_id"] != "7" {
		t.Errorf("ada after the first delivery = %+v, %v (the source's weight 2)", eng, err)
	}

	// Linking the handle records the kept activity; in another community it matches nothing.
	if n, err := f.s.LinkHandle(f.ctx, domain.Handle{Community: "other", MemberID: theirs.ID, Provider: "forum", Handle: "ada_l", LinkedAt: now}, "o", f.log); err != nil || n != 0 {
		t.Errorf("other's link = %d, %v; want nothing of demo's", n, err)
	}
	n, err := f.s.LinkHandle(f.ctx, domain.Handle{Community: "demo", MemberID: ada.ID, Provider: "forum", Handle: "ada_l", LinkedAt: now}, "o", f.log)
	if err != nil || n != 1 {
		t.Fatalf("link = %d, %v; want the kept post recorded", n, err)
	}
	if p, _ := f.s.Unmatched(f.ctx, "demo", "", "", 10); len(p) != 0 {
		t.Errorf("still unmatched: %+v", p)
	}
	// From now on the handle matches at once, ignoring case; a second
	// member cannot take it.
	got, _, err = f.s.Ingest(f.ctx, d("2"), []store.Incoming{incoming("posted", "post/3", now, domain.Identity{Provider: "forum", Handle: "ADA_L"})}, settings, f.log)
	if err != nil || got.Recorded != 1 {
		t.Errorf("delivery by the linked handle = %+v, %v", got, err)
	}
	bob := f.create(t, newMember(t, "demo", "bob@example.org"))
	if _, err := f.s.LinkHandle(f.ctx, domain.Handle{Community: "demo", MemberID: bob.ID, Provider: "forum", Handle: "Ada_L", LinkedAt: now}, "o", f.log); !errors.Is(err, domain.ErrHandleTaken) {
		t.Errorf("bob taking ada's handle = %v", err)
	}

	// An unverified address matches nobody; confirming it claims what was kept.
	cleo := newMember(t, "demo", "cleo@example.org")
	cleo.EmailVerified = false
	f.create(t, cleo)
	got, _, err = f.s.Ingest(f.ctx, d("3"), []store.Incoming{incoming("posted", "post/4", now, domain.Identity{Email: "cleo@example.org"})}, settings, f.log)
	if err != nil || got.Unmatched != 1 {
		t.Fatalf("delivery for an unconfirmed address = %+v, %v", got, err)
	}
	if _, err := f.s.ConfirmEmail(f.ctx, "demo", cleo.ID, "cleo@example.org", now, f.log, noEvents); err != nil {
		t.Fatal(err)
	}
	if eng, _ := f.s.Engagement(f.ctx, "demo", cleo.ID, settings); len(eng.Recent) != 1 {
		t.Errorf("cleo after confirming = %+v, want the kept post", eng)
	}

	// A delivery none of whose activities could be recorded (a member id
	// of another community) is logged as ignored with why, never as
	// recorded; one with some failures says how many.
	got, _, err = f.s.Ingest(f.ctx, d("4"), []store.Incoming{incoming("posted", "post/5", now, domain.Identity{MemberID: theirs.ID})}, settings, f.log)
	if err != nil || got.Outcome != domain.DeliveryIgnored || got.Recorded != 0 || !strings.Contains(got.Reason, "1 of 1 activities could not be recorded") {
		t.Errorf("a delivery whose every activity failed = %+v, %v; want ignored with the reason", got, err)
	}
	got, _, err = f.s.Ingest(f.ctx, d("5"), []store.Incoming{incoming("posted", "post/6", now, domain.Identity{MemberID: theirs.ID}),
		incoming("posted", "post/7", now, byEmail)}, settings, f.log)
	if err != nil || got.Outcome != domain.DeliveryRecorded || got.Recorded != 1 || !strings.Contains(got.Reason, "1 of 2 activities could not be recorded") {
		t.Errorf("a delivery with one failed activity of two = %+v, %v", got, err)
	}

	// Erasure takes the member's handles; merges carry them over.
	if err := f.s.Erase(f.ctx, "demo", ada.ID, f.log); err != nil {
		t.Fatal(err)
	}
	if hs, _ := f.s.Handles(f.ctx, "demo", ada.ID); len(hs) != 0 {
		t.Errorf("an erased member's handles = %+v", hs)
	}
	deliveries, err := f.s.Deliveries(f.ctx, "demo", "forum", time.Time{}, "", 10)
	if err != nil || len(deliveries) != 5 {
		t.Errorf("deliveries = %+v, %v", deliveries, err)
	}
	if list, _ := f.s.Deliveries(f.ctx, "other", "", time.Time{}, "", 10); len(list) != 0 {
		t.Errorf("other's delivery log = %+v", list)
	}
	if err := f.s.DeleteSource(f.ctx, "other", "forum", f.log); !errors.Is(err, domain.ErrSourceNotFound) {
		t.Errorf("deleting demo's source as other = %v", err)
	}
}

func testReferrals(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	f.s.WithLevelEvents(events.Factory{})
	ada := f.create(t, newMember(t, "demo", "ada@example.org"))
	code, err := f.s.ReferralCode(f.ctx, "demo", ada.ID, f.log)
	if err != nil || len(code) != 12 {
		t.Fatalf("code = %q, %v", code, err)
	}
	if again, _ := f.s.ReferralCode(f.ctx, "demo", ada.ID, f.log); again != code {
		t.Errorf("second code = %q, want %q", again, code)
	}
	if _, err := f.s.ReferralCode(f.ctx, "other", ada.ID, f.log); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("ada's code asked in other = %v", err)
	}
	if _, err := f.s.Referrer(f.ctx, "other", code); !errors.Is(err, domain.ErrUnknownReferrer) {
		t.Errorf("demo's code in other = %v", err)
	}
	referrer, err := f.s.Referrer(f.ctx, "demo", code)
	if err != nil || referrer != ada.ID {
		t.Fatalf("referrer = %q, %v", referrer, err)
	}
	bea := newMember(t, "demo", "bea@example.org")
	bea.Source = domain.Source{Kind: domain.SourceReferral, ReferrerID: ada.ID}
	bea.EmailVerified = false
	f.create(t, bea)
	list, total, counted, err := f.s.Referrals(f.ctx, "demo", ada.ID, time.Time{}, "", 10)
	if err != nil || total != 1 || counted != 0 || len(list) != 1 || list[0].Counted {
		t.Fatalf("referrals before confirming = %+v %d %d %v", list, total, counted, err)
	}
	for range 2 {
		if _, err := f.s.ConfirmEmail(f.ctx, "demo", bea.ID, "bea@example.org", time.Now(), f.log, noEvents); err != nil {
			t.Fatal(err)
		}
	}
	_, total, counted, _ = f.s.Referrals(f.ctx, "demo", ada.ID, time.Time{}, "", 10)
	eng, _ := f.s.Engagement(f.ctx, "demo", ada.ID, domain.DefaultSettings("demo"))
	if total != 1 || counted != 1 || len(eng.Recent) != 1 || eng.Recent[0].Type != domain.ActivityReferredMember || eng.Score != 5 {
		t.Errorf("after confirming twice: total %d counted %d, ada's activities %+v", total, counted, eng)
	}
	// Erasing the referrer drops the code and the link.
	if err := f.s.Erase(f.ctx, "demo", ada.ID, f.log); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Referrer(f.ctx, "demo", code); !errors.Is(err, domain.ErrUnknownReferrer) {
		t.Errorf("an erased member's code = %v", err)
	}
}

func testSourceWeights(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	f.s.WithLevelEvents(events.Factory{})
	settings := domain.DefaultSettings("demo")
	settings.SourceWeights = map[string]int{"forum": 3}
	var ids []string
	for i := range 3 {
		m := f.create(t, newMember(t, "demo", string(rune('a'+i))+"@example.org"))
		ids = append(ids, m.ID)
	}
	now := time.Now()
	var items []store.Incoming
	for i, id := range ids {
		for j := range i + 1 {
			items = append(items, incoming("posted", id+"/"+string(rune('0'+j)), now, domain.Identity{MemberID: id}))
		}
	}
	if _, err := f.s.RecordIncoming(f.ctx, "demo", items, settings, f.log); err != nil {
		t.Fatal(err)
	}
	// Each post weighs 3 (the forum's weight), not 1 (posted's): 3, 6 and
	// 9 points; the first member is still an Observer (Participant from 5).
	for i, id := range ids {
		if m, _ := f.s.GetMember(f.ctx, "demo", id); m.Score != 3*(i+1) {
			t.Errorf("member %d score = %d, want %d", i, m.Score, 3*(i+1))
		}
	}
	lower := settings
	lower.SourceWeights = map[string]int{"forum": 5}
	members, up, _, err := f.s.Relevel(f.ctx, "demo", lower, events.Factory{}, nil, "")
	if err != nil || members != 3 || up != 1 {
		t.Errorf("relevel = %d members, %d up, %v", members, up, err)
	}
	for i, id := range ids {
		m, _ := f.s.GetMember(f.ctx, "demo", id)
		if m.Score != 5*(i+1) {
			t.Errorf("member %d score = %d, want %d", i, m.Score, 5*(i+1))
		}
	}
}

func noEvents(store.Confirmation) ([]kafka.Event, error) { return nil, nil }
