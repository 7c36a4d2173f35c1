package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

// outboxTypes lists the types of the events in the outbox, oldest first.
func (f fixture) outboxTypes(t *testing.T) []string {
	t.Helper()
	rows, err := f.db.Query("SELECT event_type FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ string
		if err := rows.Scan(&typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, typ)
	}
	return out
}

func publicJoin(t *testing.T, email string, consent bool) domain.Member {
	t.Helper()
	m := newMember(t, "demo", email)
	m.EmailConsent, m.ConsentAsked, m.EmailVerified = false, consent, false
	return m
}

func TestDoubleOptIn(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("a repeated join tells the member at most once a day and changes nothing", func(t *testing.T) {
				f := newStore(t, engine, nil)
				ada := f.create(t, publicJoin(t, "ada@example.org", false))
				now := time.Now()
				tell := func(existing domain.Member) ([]kafka.Event, error) {
					e, err := events.Factory{}.JoinRepeated(existing.Community, existing.ID, now)
					return []kafka.Event{e}, err
				}
				for i, at := range []time.Time{now, now.Add(time.Hour), now.Add(23 * time.Hour), now.Add(25 * time.Hour)} {
					told, err := f.s.RepeatJoin(f.ctx, "demo", "ada@example.org", at, domain.RepeatJoinEvery, f.log, tell)
					if err != nil {
						t.Fatal(err)
					}
					if want := i == 0 || i == 3; told != want {
						t.Errorf("repeat %d at +%v: told = %v, want %v", i, at.Sub(now), told, want)
					}
				}
				if told, err := f.s.RepeatJoin(f.ctx, "other", "ada@example.org", now.Add(72*time.Hour), domain.RepeatJoinEvery, f.log, tell); err != nil || told {
					t.Errorf("a join in another community told demo's member: %v, %v", told, err)
				}
				got, _ := f.s.GetMember(f.ctx, "demo", ada.ID)
				if got.DisplayName != ada.DisplayName || got.EmailVerified || got.Status != domain.StatusActive {
					t.Errorf("the member changed: %+v", got)
				}
				if types := f.outboxTypes(t); !slices.Equal(types, []string{events.TypeMemberJoined, events.TypeJoinRepeated, events.TypeJoinRepeated}) {
					t.Errorf("outbox = %v", types)
				}
			})

			t.Run("confirming a join verifies the address and puts the asked consent in effect", func(t *testing.T) {
				f := newStore(t, engine, nil)
				ada := f.create(t, publicJoin(t, "ada@example.org", true))
				if got, _ := f.s.GetMember(f.ctx, "demo", ada.ID); got.EmailConsent || got.EmailVerified || !got.ConsentAsked {
					t.Fatalf("before confirmation: %+v", got)
				}
				if ledger, _ := f.s.ConsentLedger(f.ctx, "demo", ada.ID); len(ledger) != 0 {
					t.Fatalf("consent in the ledger before confirmation: %+v", ledger)
				}
				n, err := f.s.CountSegment(f.ctx, "demo", domain.Filter{Consents: []string{domain.PurposeAnnouncements}})
				if err != nil || n != 0 {
					t.Errorf("announcement audience before confirmation = %d, %v", n, err)
				}
				built := 0
				confirm := func(community, id, email string) (store.Confirmation, error) {
					return f.s.ConfirmEmail(f.ctx, community, id, email, time.Now(), f.log, func(c store.Confirmation) ([]kafka.Event, error) {
						built++
						e, err := events.Factory{}.EmailConfirmed(c.After, email, c.Reason, time.Now())
						return []kafka.Event{e}, err
					})
				}
				if _, err := confirm("other", ada.ID, "ada@example.org"); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("confirming from another community = %v, want ErrNotFound", err)
				}
				if _, err := confirm("demo", ada.ID, "someone@example.org"); !errors.Is(err, domain.ErrStaleConfirmation) {
					t.Errorf("confirming another address = %v, want ErrStaleConfirmation", err)
				}
				c, err := confirm("demo", ada.ID, "ADA@example.org")
				if err != nil || c.Reason != domain.ConfirmJoin || c.Consent == nil || !c.After.EmailVerified || !c.After.EmailConsent || c.After.ConsentAsked {
					t.Fatalf("confirmation = %+v, %v", c, err)
				}
				ledger, _ := f.s.ConsentLedger(f.ctx, "demo", ada.ID)
				if len(ledger) != 1 || ledger[0].Source != domain.ConsentSourceDoubleOptIn || !ledger[0].Granted {
					t.Errorf("ledger = %+v, want one grant from double-opt-in", ledger)
				}
				again, err := confirm("demo", ada.ID, "ada@example.org")
				if err != nil || again.Reason != "" || built != 1 {
					t.Errorf("confirming twice = %+v, %v (events built %d times); want nothing new", again, err, built)
				}
				if ledger, _ := f.s.ConsentLedger(f.ctx, "demo", ada.ID); len(ledger) != 1 {
					t.Errorf("a second confirmation wrote consent again: %+v", ledger)
				}
			})

			t.Run("an address change takes effect when confirmed, unless someone took the address", func(t *testing.T) {
				f := newStore(t, engine, nil)
				ada := f.create(t, newMember(t, "demo", "ada@example.org"))
				ada.EmailVerified = true
				if !ada.ChangeEmail("ada@new.example.org", false) {
					t.Fatal("a member's own change did not ask for confirmation")
				}
				if err := f.s.UpdateProfile(f.ctx, ada, f.log); err != nil {
					t.Fatal(err)
				}
				got, _ := f.s.GetMember(f.ctx, "demo", ada.ID)
				if got.Email != "ada@example.org" || got.PendingEmail != "ada@new.example.org" {
					t.Fatalf("before confirmation: email %q pending %q", got.Email, got.PendingEmail)
				}
				noEvents := func(store.Confirmation) ([]kafka.Event, error) { return nil, nil }
				c, err := f.s.ConfirmEmail(f.ctx, "demo", ada.ID, "ada@new.example.org", time.Now(), f.log, noEvents)
				if err != nil || c.Reason != domain.ConfirmEmailChange || c.After.Email != "ada@new.example.org" || c.After.PendingEmail != "" || !c.After.EmailVerified {
					t.Fatalf("confirmation = %+v, %v", c, err)
				}
				if _, err := f.s.ConfirmEmail(f.ctx, "demo", ada.ID, "ada@example.org", time.Now(), f.log, noEvents); !errors.Is(err, domain.ErrStaleConfirmation) {
					t.Errorf("the old address's link after the change = %v, want ErrStaleConfirmation", err)
				}

				bob := f.create(t, newMember(t, "demo", "bob@example.org"))
				bob.ChangeEmail("cleo@example.org", false)
				if err := f.s.UpdateProfile(f.ctx, bob, f.log); err != nil {
					t.Fatal(err)
				}
				f.create(t, newMember(t, "demo", "cleo@example.org"))
				if _, err := f.s.ConfirmEmail(f.ctx, "demo", bob.ID, "cleo@example.org", time.Now(), f.log, noEvents); !errors.Is(err, domain.ErrEmailTaken) {
					t.Errorf("confirming an address another member took = %v, want ErrEmailTaken", err)
				}
				if got, _ := f.s.GetMember(f.ctx, "demo", bob.ID); got.Email != "bob@example.org" || got.PendingEmail != "cleo@example.org" {
					t.Errorf("a refused confirmation changed the member: %+v", got)
				}
			})
		})
	}
}

// Every store call that takes an id, given the id of another community's
// member, segment or key, finds nothing and changes nothing.
func TestIDsOfAnotherCommunityAreNotFound(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			f := newStore(t, engine, nil)
			theirs := f.create(t, newMember(t, "other", "grace@example.org"))
			ours := f.create(t, newMember(t, "demo", "ada@example.org"))
			seg := domain.Segment{ID: "0190f5a0-0000-7000-8000-00000000000a", Community: "other", Name: "theirs", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
			if err := f.s.SaveSegment(f.ctx, seg, f.log); err != nil {
				t.Fatal(err)
			}
			before := f.snapshot(t)
			settings := domain.DefaultSettings("demo")
			role, _ := domain.NewRoleAssignment(domain.RoleAmbassador, "", "organiser-1", time.Now())
			consent, _ := domain.NewConsentRecord(theirs.ID, domain.PurposeDigest, true, "form", "v1", time.Now())
			activity, _ := domain.NewActivity(domain.Activity{ID: "0190f5a0-0000-7000-8000-00000000000b", Community: "demo", MemberID: theirs.ID,
				Type: domain.ActivityHostedEvent, OccurredAt: time.Now(), SourceEventID: "ev-x"}, settings, time.Now())
			noEvents := func(domain.ConsentRecord) ([]kafka.Event, error) { return nil, nil }
			moved := theirs
			moved.Community, moved.DisplayName = "demo", "Taken over"

			calls := map[string]func() error{
				"GetMember":     func() error { _, err := f.s.GetMember(f.ctx, "demo", theirs.ID); return err },
				"UpdateProfile": func() error { return f.s.UpdateProfile(f.ctx, moved, f.log) },
				"SetStatus": func() error {
					return f.s.SetStatus(f.ctx, "demo", theirs.ID, domain.StatusActive, domain.StatusLeft, f.log, "member.left")
				},
				"RecordConsent":            func() error { _, err := f.s.RecordConsent(f.ctx, "demo", consent, f.log, noEvents); return err },
				"ConsentLedger":            func() error { _, err := f.s.ConsentLedger(f.ctx, "demo", theirs.ID); return err },
				"AssignRole":               func() error { return f.s.AssignRole(f.ctx, "demo", theirs.ID, role, f.log) },
				"RevokeRole":               func() error { return f.s.RevokeRole(f.ctx, "demo", theirs.ID, domain.RoleMember, f.log) },
				"MergeMembers (duplicate)": func() error { _, err := f.s.Merge(f.ctx, "demo", ours.ID, theirs.ID, f.log); return err },
				"MergeMembers (primary)":   func() error { _, err := f.s.Merge(f.ctx, "demo", theirs.ID, ours.ID, f.log); return err },
				"ExportData":               func() error { _, err := f.s.ExportData(f.ctx, "demo", theirs.ID); return err },
				"Erase":                    func() error { return f.s.Erase(f.ctx, "demo", theirs.ID, f.log) },
				"RecordActivity": func() error {
					_, _, err := f.s.RecordActivity(f.ctx, activity, settings, events.Factory{}, f.log)
					return err
				},
				"Engagement": func() error { _, err := f.s.Engagement(f.ctx, "demo", theirs.ID, settings); return err },
				"ConfirmEmail": func() error {
					_, err := f.s.ConfirmEmail(f.ctx, "demo", theirs.ID, "grace@example.org", time.Now(), f.log,
						func(store.Confirmation) ([]kafka.Event, error) { return nil, nil })
					return err
				},
				"Segment":       func() error { _, err := f.s.Segment(f.ctx, "demo", seg.ID); return err },
				"DeleteSegment": func() error { return f.s.DeleteSegment(f.ctx, "demo", seg.ID, f.log) },
			}
			for name, call := range calls {
				t.Run(name, func(t *testing.T) {
					err := call()
					if !errors.Is(err, domain.ErrNotFound) && !errors.Is(err, domain.ErrSegmentNotFound) && !errors.Is(err, domain.ErrBadTransition) {
						t.Errorf("error = %v, want not found", err)
					}
				})
			}
			if after := f.snapshot(t); after != before {
				t.Errorf("calls with another community's ids changed data:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// snapshot counts what the calls above could have written.
type snapshot struct {
	members, interests, roles, consents, ledger, activities, segments, outbox, audit int
	theirName                                                                        string
}

func (f fixture) snapshot(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{members: f.count(t, "members"), interests: f.count(t, "member_interests"), roles: f.count(t, "member_roles"),
		consents: f.count(t, "consent_current"), ledger: f.count(t, "consent_ledger"), activities: f.count(t, "activities"),
		segments: f.count(t, "segments"), outbox: f.count(t, "outbox"), audit: f.count(t, "audit_log")}
	if err := f.db.QueryRow(f.db.Rebind("SELECT display_name FROM members WHERE community = ?"), "other").Scan(&s.theirName); err != nil {
		t.Fatal(err)
	}
	return s
}
