package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

type fixture struct {
	s   *store.Store
	db  *db.DB
	log *audit.Log
	ctx context.Context
}

func newStore(t testing.TB, engine string, ob store.Outbox) fixture {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), audit.Migrations(), store.Migrations())
	if ob == nil {
		ob = outbox.New(d, propagation.TraceContext{})
	}
	s := store.New(d, ob)
	if err := s.EnsureCommunities(context.Background(), "demo", "other"); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureCommunities(context.Background(), "demo"); err != nil {
		t.Fatalf("EnsureCommunities is not idempotent: %v", err)
	}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "organiser-1", Community: "demo", Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	return fixture{s: s, db: d, log: audit.New(d), ctx: ctx}
}

func newMember(t *testing.T, community, email string, mutate ...func(*domain.Profile)) domain.Member {
	t.Helper()
	p := domain.Profile{Email: email, DisplayName: "Ada", Interests: []string{"solar", "climate"}, Skills: []string{"design"},
		Goals: []string{"reduce-waste"}, Locale: "de-DE", TimeZone: "Europe/Berlin", Location: domain.Location{City: "Berlin", CountryCode: "DE"},
		Motivation: "Because.", AvailabilityHours: 8}
	for _, f := range mutate {
		f(&p)
	}
	m, err := domain.NewMember(domain.JoinRequest{Community: community, Profile: p}, domain.DefaultSettings(community), uuid.Must(uuid.NewV7()).String(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f fixture) create(t *testing.T, m domain.Member) domain.Member {
	t.Helper()
	e, err := events.Factory{}.MemberJoined(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateMember(f.ctx, m, nil, f.log, e); err != nil {
		t.Fatal(err)
	}
	return m
}

func (f fixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f fixture) activity(t *testing.T, m domain.Member, typ, source string, at time.Time, settings domain.Settings) (bool, domain.Engagement) {
	t.Helper()
	a, err := domain.NewActivity(domain.Activity{ID: uuid.NewString(), Community: m.Community, MemberID: m.ID, Type: typ, OccurredAt: at, SourceEventID: source}, settings, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	recorded, eng, err := f.s.RecordActivity(f.ctx, a, settings, events.Factory{}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	return recorded, eng
}

func TestStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("members", func(t *testing.T) { testMembers(t, engine) })
			t.Run("consents", func(t *testing.T) { testConsents(t, engine) })
			t.Run("activities and levels", func(t *testing.T) { testLevels(t, engine) })
			t.Run("roles", func(t *testing.T) { testRoles(t, engine) })
			t.Run("segments", func(t *testing.T) { testSegments(t, engine) })
			t.Run("settings", func(t *testing.T) { testSettings(t, engine) })
			t.Run("merge and erase", func(t *testing.T) { testGDPR(t, engine) })
			t.Run("import", func(t *testing.T) { testImport(t, engine) })
		})
	}
}

func testMembers(t *testing.T, engine string) {
	t.Run("a join stores the member, its profile and its event together", func(t *testing.T) {
		f := newStore(t, engine, nil)
		m := f.create(t, newMember(t, "demo", "ada@example.org"))
		got, err := f.s.GetMember(f.ctx, "demo", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != m.Email || got.DisplayName != m.DisplayName || !slices.Equal(got.Interests, []string{"climate", "solar"}) ||
			!slices.Equal(got.Skills, []string{"design"}) || !slices.Equal(got.Goals, []string{"reduce-waste"}) || got.Location != m.Location ||
			got.TimeZone != "Europe/Berlin" || got.Motivation != "Because." || got.AvailabilityHours != 8 || got.Level != "Observer" ||
			got.Status != domain.StatusActive || !got.JoinedAt.Equal(m.JoinedAt) {
			t.Errorf("GetMember = %+v, want %+v", got, m)
		}
		if n := f.count(t, "outbox"); n != 1 {
			t.Errorf("outbox events = %d, want 1", n)
		}
	})

	t.Run("the same e-mail twice in a community is refused and publishes once", func(t *testing.T) {
		f := newStore(t, engine, nil)
		f.create(t, newMember(t, "demo", "ada@example.org"))
		dup := newMember(t, "demo", "ada@example.org")
		e, _ := events.Factory{}.MemberJoined(dup)
		if err := f.s.CreateMember(f.ctx, dup, nil, f.log, e); !errors.Is(err, domain.ErrEmailTaken) {
			t.Fatalf("second join error = %v, want ErrEmailTaken", err)
		}
		if f.count(t, "members") != 1 || f.count(t, "outbox") != 1 || f.count(t, "audit_log") != 1 {
			t.Error("the refused join left rows behind")
		}
		f.create(t, newMember(t, "other", "ada@example.org"))
	})

	t.Run("an unknown community or referrer stores and publishes nothing", func(t *testing.T) {
		f := newStore(t, engine, nil)
		if err := f.s.CreateMember(f.ctx, newMember(t, "nowhere", "ada@example.org"), nil, f.log); !errors.Is(err, domain.ErrUnknownCommunity) {
			t.Fatalf("error = %v, want ErrUnknownCommunity", err)
		}
		m := newMember(t, "demo", "bob@example.org")
		m.Source = domain.Source{Kind: domain.SourceReferral, ReferrerID: "nobody"}
		if err := f.s.CreateMember(f.ctx, m, nil, f.log); !errors.Is(err, domain.ErrUnknownReferrer) {
			t.Fatalf("error = %v, want ErrUnknownReferrer", err)
		}
		if f.count(t, "members")+f.count(t, "member_interests")+f.count(t, "outbox")+f.count(t, "audit_log") != 0 {
			t.Error("something was stored")
		}
	})

	t.Run("a failing outbox append leaves no member behind", func(t *testing.T) {
		f := newStore(t, engine, failingOutbox{})
		m := newMember(t, "demo", "ada@example.org")
		e, _ := events.Factory{}.MemberJoined(m)
		if err := f.s.CreateMember(f.ctx, m, nil, f.log, e); err == nil {
			t.Fatal("CreateMember succeeded although the event could not be appended")
		}
		if f.count(t, "members")+f.count(t, "member_interests")+f.count(t, "member_skills")+f.count(t, "audit_log") != 0 {
			t.Error("member stored without its event")
		}
	})

	t.Run("members are confined to their community", func(t *testing.T) {
		f := newStore(t, engine, nil)
		m := f.create(t, newMember(t, "demo", "ada@example.org"))
		if _, err := f.s.GetMember(f.ctx, "other", m.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("GetMember from another community error = %v, want ErrNotFound", err)
		}
		if got, _ := f.s.ListMembers(f.ctx, "other", "", 10); len(got) != 0 {
			t.Errorf("ListMembers of another community = %d members", len(got))
		}
		if found, _ := f.s.FindByEmails(f.ctx, "other", []string{m.Email}); len(found) != 0 {
			t.Error("FindByEmails crossed communities")
		}
	})

	t.Run("list pages through members in join order", func(t *testing.T) {
		f := newStore(t, engine, nil)
		var want []string
		for i := range 7 {
			want = append(want, f.create(t, newMember(t, "demo", fmt.Sprintf("m%d@example.org", i))).ID)
		}
		var got []string
		for after := ""; ; {
			page, err := f.s.ListMembers(f.ctx, "demo", after, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				got = append(got, m.ID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged ids = %v, want %v", got, want)
		}
		found, err := f.s.FindByEmails(f.ctx, "demo", []string{"m1@example.org", "m5@example.org", "nobody@example.org"})
		if err != nil || len(found) != 2 || found["m5@example.org"].ID != want[5] {
			t.Errorf("FindByEmails = %v, %v", found, err)
		}
	})

	t.Run("profile updates replace tags and keep addresses unique", func(t *testing.T) {
		f := newStore(t, engine, nil)
		m := f.create(t, newMember(t, "demo", "ada@example.org"))
		f.create(t, newMember(t, "demo", "bob@example.org"))
		m.Interests, m.Skills, m.Locale = []string{"bikes"}, nil, "fr-FR"
		e, _ := events.Factory{}.ProfileUpdated(m, []string{"interests", "skills", "locale"})
		if err := f.s.UpdateProfile(f.ctx, m, f.log, e); err != nil {
			t.Fatal(err)
		}
		got, _ := f.s.GetMember(f.ctx, "demo", m.ID)
		if !slices.Equal(got.Interests, []string{"bikes"}) || len(got.Skills) != 0 || got.Locale != "fr-FR" {
			t.Errorf("after update %+v", got)
		}
		m.Email = "bob@example.org"
		if err := f.s.UpdateProfile(f.ctx, m, f.log); !errors.Is(err, domain.ErrEmailTaken) {
			t.Errorf("taking another member's address = %v, want ErrEmailTaken", err)
		}
	})

	t.Run("status changes only from the status read", func(t *testing.T) {
		f := newStore(t, engine, nil)
		m := f.create(t, newMember(t, "demo", "ada@example.org"))
		if err := f.s.SetStatus(f.ctx, "demo", m.ID, domain.StatusActive, domain.StatusInactive, f.log, "member.status_changed"); err != nil {
			t.Fatal(err)
		}
		if err := f.s.SetStatus(f.ctx, "demo", m.ID, domain.StatusActive, domain.StatusLeft, f.log, "member.left"); !errors.Is(err, domain.ErrBadTransition) {
			t.Errorf("stale transition = %v, want ErrBadTransition", err)
		}
		got, _ := f.s.GetMember(f.ctx, "demo", m.ID)
		if got.Status != domain.StatusInactive {
			t.Errorf("status = %s", got.Status)
		}
	})
}

func testConsents(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	m := f.create(t, newMember(t, "demo", "ada@example.org"))
	changedEvents := 0
	record := func(purpose string, granted bool) bool {
		t.Helper()
		rec, err := domain.NewConsentRecord(m.ID, purpose, granted, "form", "2026-01", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		moved, err := f.s.RecordConsent(f.ctx, "demo", rec, f.log, func(r domain.ConsentRecord) ([]kafka.Event, error) {
			changedEvents++
			e, err := events.Factory{}.ConsentChanged("demo", r)
			return []kafka.Event{e}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return moved
	}
	if record(domain.PurposeAnnouncements, false) {
		t.Error("withdrawing a consent never given changed it")
	}
	if !record(domain.PurposeAnnouncements, true) || record(domain.PurposeAnnouncements, true) {
		t.Error("granting twice should change once")
	}
	if !record(domain.PurposeDigest, true) || !record(domain.PurposeAnnouncements, false) {
		t.Error("changes not seen")
	}
	if changedEvents != 3 {
		t.Errorf("ConsentChanged events = %d, want 3", changedEvents)
	}
	ledger, err := f.s.ConsentLedger(f.ctx, "demo", m.ID)
	if err != nil || len(ledger) != 5 {
		t.Fatalf("ledger = %v, %v; want all 5 records", ledger, err)
	}
	current := map[string]bool{}
	for _, st := range domain.CurrentConsents(ledger) {
		current[st.Purpose] = st.Granted
	}
	if current[domain.PurposeAnnouncements] || !current[domain.PurposeDigest] {
		t.Errorf("current = %v", current)
	}
	got, _ := f.s.GetMember(f.ctx, "demo", m.ID)
	if got.EmailConsent {
		t.Error("member still shows announcement consent after withdrawal")
	}
	n, err := f.s.CountSegment(f.ctx, "demo", domain.Filter{Consents: []string{domain.PurposeDigest}})
	if err != nil || n != 1 {
		t.Errorf("members with digest consent = %d, %v", n, err)
	}
}

func testLevels(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	settings := domain.DefaultSettings("demo")
	m := f.create(t, newMember(t, "demo", "ada@example.org"))
	now := time.Now()

	if rec, _ := f.activity(t, m, domain.ActivityAttendedEvent, "ev-1", now, settings); !rec {
		t.Fatal("first activity not recorded")
	}
	if rec, eng := f.activity(t, m, domain.ActivityAttendedEvent, "ev-1", now, settings); rec || eng.Score != 5 {
		t.Errorf("redelivered source event: recorded=%v score=%d; want ignored with score 5", rec, eng.Score)
	}
	if _, eng := f.activity(t, m, domain.ActivityHostedEvent, "ev-2", now, settings); eng.Level != "Participant" || eng.Score != 15 {
		t.Errorf("after hosting: %+v, want Participant at 15 (upgrade at once)", eng)
	}
	f.activity(t, m, domain.ActivityHostedEvent, "ev-3", now.AddDate(0, 0, -200), settings) // outside the window
	eng, err := f.s.Engagement(f.ctx, "demo", m.ID, settings)
	if err != nil || eng.Score != 15 || len(eng.Recent) != 3 || !eng.LastActiveAt.Equal(now.UTC().Truncate(time.Microsecond)) {
		t.Errorf("engagement = %+v, %v", eng, err)
	}

	// A lighter weighting lowers the score; the level waits for the review.
	lighter := domain.DefaultSettings("demo")
	lighter.Weights[domain.ActivityHostedEvent] = 0
	f.activity(t, m, domain.ActivityRSVP, "ev-4", now, lighter)
	got, _ := f.s.GetMember(f.ctx, "demo", m.ID)
	if got.Level != "Participant" || got.Score != 6 {
		t.Errorf("before review: level %q score %d, want Participant 6", got.Level, got.Score)
	}
	heavier := domain.DefaultSettings("demo")
	heavier.Levels = []domain.LevelThreshold{{Name: "Observer", MinScore: 0}, {Name: "Participant", MinScore: 10}}
	members, up, down, err := f.s.Relevel(f.ctx, "demo", heavier, events.Factory{}, f.log, "levels.reviewed")
	if err != nil || members != 1 || up != 0 || down != 0 {
		t.Errorf("review with 16 points and thresholds 0/10: members=%d up=%d down=%d %v", members, up, down, err)
	}
	_, _, down, err = f.s.Relevel(f.ctx, "demo", lighter, events.Factory{}, nil, "")
	got, _ = f.s.GetMember(f.ctx, "demo", m.ID)
	if err != nil || down != 0 || got.Level != "Participant" || got.Score != 6 {
		t.Errorf("review with the lighter weights (6 points, Participant from 5): down=%d level=%q score=%d %v", down, got.Level, got.Score, err)
	}
	strict := domain.DefaultSettings("demo")
	strict.Levels = []domain.LevelThreshold{{Name: "Observer", MinScore: 0}, {Name: "Participant", MinScore: 100}}
	if _, _, down, _ = f.s.Relevel(f.ctx, "demo", strict, events.Factory{}, nil, ""); down != 1 {
		t.Errorf("downgrades at review = %d, want 1", down)
	}
	got, _ = f.s.GetMember(f.ctx, "demo", m.ID)
	if got.Level != "Observer" {
		t.Errorf("level after the strict review = %q, want Observer", got.Level)
	}
	var levelEvents int
	if err := f.db.QueryRow(f.db.Rebind("SELECT count(*) FROM outbox WHERE event_type = ?"), events.TypeLevelChanged).Scan(&levelEvents); err != nil {
		t.Fatal(err)
	}
	if levelEvents != 2 {
		t.Errorf("LevelChanged events = %d, want 2 (up at once, down at the review)", levelEvents)
	}

	// An onboarding journey's activity publishes MemberOnboarded, once.
	f.activity(t, m, domain.ActivityOnboarded, "onboarding/demo/"+m.ID+"/onboarded", now, settings)
	f.activity(t, m, domain.ActivityOnboarded, "onboarding/demo/"+m.ID+"/onboarded", now, settings)
	var onboarded int
	if err := f.db.QueryRow(f.db.Rebind("SELECT count(*) FROM outbox WHERE event_type = ?"), events.TypeMemberOnboarded).Scan(&onboarded); err != nil {
		t.Fatal(err)
	}
	if onboarded != 1 {
		t.Errorf("MemberOnboarded events = %d, want 1 for a redelivered onboarded activity", onboarded)
	}
}

func testRoles(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	m := f.create(t, newMember(t, "demo", "ada@example.org"))
	amb, err := domain.NewRoleAssignment(domain.RoleAmbassador, "silver", "organiser-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.AssignRole(f.ctx, "demo", m.ID, amb, f.log); err != nil {
		t.Fatal(err)
	}
	staff, _ := domain.NewRoleAssignment(domain.RoleStaff, "", "organiser-1", time.Now())
	if err := f.s.AssignRole(f.ctx, "demo", m.ID, staff, f.log); err != nil {
		t.Fatal(err)
	}
	got, _ := f.s.GetMember(f.ctx, "demo", m.ID)
	if len(got.Roles) != 2 || got.Roles[0].Role != domain.RoleAmbassador || got.Roles[0].Tier != "silver" || got.Level != "" {
		t.Errorf("roles %+v level %q; want ambassador (silver) and staff, no level", got.Roles, got.Level)
	}
	settings := domain.DefaultSettings("demo")
	if _, eng := f.activity(t, got, domain.ActivityHostedEvent, "ev-1", time.Now(), settings); eng.Level != "" {
		t.Errorf("staff gained level %q", eng.Level)
	}
	if err := f.s.RevokeRole(f.ctx, "demo", m.ID, domain.RoleStaff, f.log); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RevokeRole(f.ctx, "demo", m.ID, domain.RoleStaff, f.log); !errors.Is(err, domain.ErrRoleNotHeld) {
		t.Errorf("revoking twice = %v, want ErrRoleNotHeld", err)
	}
	entries, _ := f.log.List(f.ctx, "demo", "", 10)
	var actions []string
	for _, e := range entries {
		if e.TargetID == m.ID && e.Action != "member.joined" && e.Action != "activity.recorded" {
			actions = append(actions, e.Action)
		}
	}
	if !slices.Equal(actions, []string{"role.revoked", "role.assigned", "role.assigned"}) {
		t.Errorf("role audit entries = %v, want two assignments and one revocation, newest first", actions)
	}
}

func testSegments(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	settings := domain.DefaultSettings("demo")
	berlin := f.create(t, newMember(t, "demo", "a@example.org"))
	f.create(t, newMember(t, "demo", "b@example.org", func(p *domain.Profile) {
		p.Interests, p.Location = []string{"bikes"}, domain.Location{City: "Paris", CountryCode: "FR"}
		p.Motivation, p.AvailabilityHours = "", 0
	}))
	f.create(t, newMember(t, "other", "c@example.org"))
	f.activity(t, berlin, domain.ActivityHostedEvent, "ev-1", time.Now(), settings)

	tests := []struct {
		name   string
		filter domain.Filter
		want   int64
	}{
		{"everyone", domain.Filter{}, 2},
		{"by interest", domain.Filter{Interests: []string{"solar"}}, 1},
		{"by any of two interests", domain.Filter{Interests: []string{"solar", "bikes"}}, 2},
		{"by country", domain.Filter{CountryCodes: []string{"FR"}}, 1},
		{"by level", domain.Filter{Levels: []string{"Participant"}}, 1},
		{"active lately", domain.Filter{LastActiveAfter: time.Now().Add(-time.Hour)}, 1},
		{"idle", domain.Filter{LastActiveBefore: time.Now().Add(-time.Hour)}, 1},
		{"joined after tomorrow", domain.Filter{JoinedAfter: time.Now().Add(24 * time.Hour)}, 0},
		{"by status", domain.Filter{Statuses: []domain.Status{domain.StatusInactive}}, 0},
		{"by skill and country", domain.Filter{Skills: []string{"design"}, CountryCodes: []string{"DE"}}, 1},
		{"by goal alone", domain.Filter{Goals: []string{"reduce-waste"}}, 2},
		{"by interest and skill", domain.Filter{Interests: []string{"bikes"}, Skills: []string{"design"}}, 1},
		{"by interest and status", domain.Filter{Interests: []string{"solar"}, Statuses: []domain.Status{domain.StatusActive}}, 1},
		{"by interest nobody has", domain.Filter{Interests: []string{"kites"}}, 0},
		{"by consent nobody gave", domain.Filter{Consents: []string{domain.PurposeAnnouncements}}, 0},
	}
	for _, tt := range tests {
		n, err := f.s.CountSegment(f.ctx, "demo", tt.filter)
		if err != nil || n != tt.want {
			t.Errorf("%s: count = %d, %v; want %d", tt.name, n, err, tt.want)
		}
	}
	list, err := f.s.SegmentMembers(f.ctx, "demo", domain.Filter{Interests: []string{"solar"}}, "", 10)
	if err != nil || len(list) != 1 || list[0].ID != berlin.ID {
		t.Errorf("SegmentMembers = %v, %v", list, err)
	}
	r, err := f.s.Report(f.ctx, "demo", domain.Filter{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Members != 2 || r.WithMotivation != 1 || r.MeanAvailability != 8 || len(r.Countries) != 2 {
		t.Errorf("report = %+v", r)
	}
	recency := map[string]int64{}
	for _, b := range r.Recency {
		recency[b.Value] = b.Count
	}
	if recency["7d"] != 1 || recency["never"] != 1 {
		t.Errorf("recency = %v", r.Recency)
	}

	seg := domain.Segment{ID: uuid.NewString(), Community: "demo", Name: "Solar fans", Filter: domain.Filter{Interests: []string{"solar"}, Statuses: []domain.Status{domain.StatusActive}},
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), CreatedBy: "organiser-1"}
	if err := f.s.SaveSegment(f.ctx, seg, f.log); err != nil {
		t.Fatal(err)
	}
	again := seg
	again.ID = uuid.NewString()
	if err := f.s.SaveSegment(f.ctx, again, f.log); !errors.Is(err, domain.ErrSegmentNameTaken) {
		t.Errorf("same name = %v, want ErrSegmentNameTaken", err)
	}
	got, err := f.s.Segment(f.ctx, "demo", seg.ID)
	if err != nil || got.Name != "Solar fans" || !slices.Equal(got.Filter.Interests, []string{"solar"}) || len(got.Filter.Statuses) != 1 {
		t.Errorf("Segment = %+v, %v", got, err)
	}
	if _, err := f.s.Segment(f.ctx, "other", seg.ID); !errors.Is(err, domain.ErrSegmentNotFound) {
		t.Errorf("segment of another community = %v", err)
	}
	if err := f.s.DeleteSegment(f.ctx, "other", seg.ID, f.log); !errors.Is(err, domain.ErrSegmentNotFound) {
		t.Errorf("deleting a segment from another community = %v, want ErrSegmentNotFound", err)
	}
	if err := f.s.DeleteSegment(f.ctx, "demo", seg.ID, f.log); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteSegment(f.ctx, "demo", seg.ID, f.log); !errors.Is(err, domain.ErrSegmentNotFound) {
		t.Errorf("deleting twice = %v, want ErrSegmentNotFound", err)
	}
	if segs, _ := f.s.Segments(f.ctx, "demo"); len(segs) != 0 {
		t.Errorf("segments after delete = %v", segs)
	}
}

func testSettings(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	got, err := f.s.Settings(f.ctx, "demo")
	if err != nil || got.WindowDays != 90 || len(got.Levels) != 4 {
		t.Fatalf("default settings = %+v, %v", got, err)
	}
	if _, err := f.s.Settings(f.ctx, "nowhere"); !errors.Is(err, domain.ErrUnknownCommunity) {
		t.Errorf("settings of an unknown community = %v", err)
	}
	custom := domain.DefaultSettings("demo")
	custom.Interests, custom.WindowDays = []string{"solar"}, 30
	if err := f.s.SaveSettings(f.ctx, custom, f.log); err != nil {
		t.Fatal(err)
	}
	got, _ = f.s.Settings(f.ctx, "demo")
	if got.WindowDays != 30 || !slices.Equal(got.Interests, []string{"solar"}) || got.Weights[domain.ActivityHostedEvent] != 10 {
		t.Errorf("saved settings = %+v", got)
	}
}

func testGDPR(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	settings := domain.DefaultSettings("demo")
	primary := f.create(t, newMember(t, "demo", "ada@example.org"))
	dup := f.create(t, newMember(t, "demo", "ada.lovelace@example.org", func(p *domain.Profile) { p.Interests = []string{"bikes"} }))
	f.activity(t, dup, domain.ActivityAttendedEvent, "ev-dup", time.Now(), settings)
	rec, _ := domain.NewConsentRecord(dup.ID, domain.PurposeAnnouncements, true, "form", "v1", time.Now())
	if _, err := f.s.RecordConsent(f.ctx, "demo", rec, f.log, func(domain.ConsentRecord) ([]kafka.Event, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	role, _ := domain.NewRoleAssignment(domain.RoleAmbassador, "", "organiser-1", time.Now())
	if err := f.s.AssignRole(f.ctx, "demo", dup.ID, role, f.log); err != nil {
		t.Fatal(err)
	}
	merged, err := f.s.Merge(f.ctx, "demo", primary.ID, dup.ID, f.log)
	if err != nil {
		t.Fatal(err)
	}
	if !merged.EmailConsent || len(merged.Roles) != 1 || !slices.Equal(merged.Interests, []string{"bikes", "climate", "solar"}) {
		t.Errorf("merged = %+v", merged)
	}
	if _, err := f.s.GetMember(f.ctx, "demo", dup.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("duplicate still there: %v", err)
	}
	data, err := f.s.ExportData(f.ctx, "demo", primary.ID)
	if err != nil || len(data.Activities) != 1 || len(data.Consents) != 1 {
		t.Errorf("export after merge = %+v, %v", data, err)
	}

	if err := f.s.Erase(f.ctx, "demo", primary.ID, f.log); err != nil {
		t.Fatal(err)
	}
	erased, err := f.s.GetMember(f.ctx, "demo", primary.ID)
	if err != nil {
		t.Fatal(err)
	}
	if erased.Status != domain.StatusErased || erased.DisplayName != "" || erased.Email == "ada@example.org" || erased.Location.City != "" ||
		len(erased.Interests)+len(erased.Skills)+len(erased.Goals) != 0 || erased.Motivation != "" || erased.EmailConsent {
		t.Errorf("erased member still holds personal data: %+v", erased)
	}
	for _, filter := range []domain.Filter{{}, {Interests: []string{"solar"}}, {Interests: []string{"solar"}, Skills: []string{"design"}}, {Roles: []string{domain.RoleAmbassador}}} {
		if n, _ := f.s.CountSegment(f.ctx, "demo", filter); n != 0 {
			t.Errorf("erased member counted in segment %+v: %d", filter, n)
		}
	}
	if f.count(t, "activities") != 1 {
		t.Error("erasure dropped the pseudonymous activity ledger")
	}
	if err := f.s.Erase(f.ctx, "demo", primary.ID, f.log); !errors.Is(err, domain.ErrErased) {
		t.Errorf("erasing twice = %v", err)
	}
	var personal int
	if err := f.db.QueryRow(f.db.Rebind("SELECT count(*) FROM members WHERE email = ? OR display_name = ?"), "ada@example.org", "Ada").Scan(&personal); err != nil || personal != 0 {
		t.Errorf("personal data left in members: %d %v", personal, err)
	}
}

func testImport(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	existing := f.create(t, newMember(t, "demo", "ada@example.org"))
	updated := existing
	updated.DisplayName = "Ada L."
	fresh := newMember(t, "demo", "new@example.org")
	rec, _ := domain.NewConsentRecord(fresh.ID, domain.PurposeAnnouncements, true, "import", "v1", time.Now())
	err := f.s.ApplyImport(f.ctx, "demo", []store.ImportChange{
		{Member: updated},
		{Create: true, Member: fresh, Consents: []domain.ConsentRecord{rec}},
	}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.s.FindByEmails(f.ctx, "demo", []string{"ada@example.org", "new@example.org"})
	if got["ada@example.org"].DisplayName != "Ada L." || !got["new@example.org"].EmailConsent || len(got) != 2 {
		t.Errorf("after import: %+v", got)
	}
	clash := newMember(t, "demo", "ada@example.org")
	if err := f.s.ApplyImport(f.ctx, "demo", []store.ImportChange{{Create: true, Member: newMember(t, "demo", "x@example.org")}, {Create: true, Member: clash}}, f.log); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("import clash = %v, want ErrEmailTaken", err)
	}
	if found, _ := f.s.FindByEmails(f.ctx, "demo", []string{"x@example.org"}); len(found) != 0 {
		t.Error("a failed import batch left rows behind")
	}
}

type failingOutbox struct{}

func (failingOutbox) Append(context.Context, *sql.Tx, kafka.Event) error {
	return errors.New("outbox table unavailable")
}
func (failingOutbox) AppendTraced(context.Context, *sql.Tx, []outbox.Traced) error {
	return errors.New("outbox table unavailable")
}
func (failingOutbox) Notify() {}
