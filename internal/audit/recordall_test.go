package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

func TestRecordAll(t *testing.T) {
	caller := func(kind auth.Kind, subject string) context.Context {
		return auth.WithPrincipal(context.Background(), auth.Principal{Kind: kind, Subject: subject, Community: "demo"}, auth.ScopeCommunity)
	}
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("each action is recorded for its own caller, in order", func(t *testing.T) {
				d := dbtest.Open(t, engine, pg, audit.Migrations())
				log := audit.New(d)
				// 300 actions of three callers sharing a transaction (a
				// group commit): more than one statement carries.
				callers := []context.Context{caller(auth.KindUser, "ada"), caller(auth.KindUser, "bob"), caller(auth.KindWorkload, "sweeper")}
				var items []audit.Item
				for i := range 300 {
					items = append(items, audit.Item{Ctx: callers[i%3], Community: "demo", Action: "rsvp.answered", TargetType: "rsvp", TargetID: fmt.Sprintf("r%03d", i)})
				}
				// An item without a context of its own is RecordAll's caller's.
				items = append(items, audit.Item{Community: "other", Action: "rsvp.answered", TargetType: "rsvp", TargetID: "elsewhere"})
				organiser := caller(auth.KindUser, "organiser-1")
				if err := d.InTx(organiser, func(tx *sql.Tx) error { return log.RecordAll(organiser, tx, items...) }); err != nil {
					t.Fatal(err)
				}
				got := oldestFirst(t, organiser, log, "demo", 300)
				for i, e := range got {
					p, _ := auth.FromContext(callers[i%3])
					if e.TargetID != fmt.Sprintf("r%03d", i) || e.ActorKind != string(p.Kind) || e.ActorID != p.Subject || e.Action != "rsvp.answered" || e.TargetType != "rsvp" {
						t.Fatalf("entry %d = %+v, want r%03d by %s %s", i, e, i, p.Kind, p.Subject)
					}
				}
				other, err := log.List(organiser, "other", "", 10)
				if err != nil || len(other) != 1 || other[0].ActorID != "organiser-1" || other[0].TargetID != "elsewhere" {
					t.Errorf("other's entries = %+v, %v; want the one recorded for RecordAll's caller", other, err)
				}
			})

			t.Run("an action without an authenticated caller records none", func(t *testing.T) {
				d := dbtest.Open(t, engine, pg, audit.Migrations())
				log := audit.New(d)
				ada := caller(auth.KindUser, "ada")
				err := d.InTx(ada, func(tx *sql.Tx) error {
					err := log.RecordAll(ada, tx,
						audit.Item{Ctx: ada, Community: "demo", Action: "rsvp.answered", TargetType: "rsvp", TargetID: "r1"},
						audit.Item{Ctx: context.Background(), Community: "demo", Action: "rsvp.answered", TargetType: "rsvp", TargetID: "r2"})
					if err == nil {
						t.Error("an anonymous action was recorded")
					}
					return nil // the caller goes on regardless: nothing may have been written
				})
				if err != nil {
					t.Fatal(err)
				}
				if got, err := log.List(ada, "demo", "", 10); err != nil || len(got) != 0 {
					t.Errorf("entries = %+v, %v; want none", got, err)
				}
				if err := d.InTx(ada, func(tx *sql.Tx) error { return log.RecordAll(ada, tx) }); err != nil {
					t.Errorf("recording nothing: %v", err)
				}
			})
		})
	}
}

func TestRecordAllAnonymous(t *testing.T) {
	ada := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "ada", Community: "demo"}, auth.ScopeCommunity)
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := dbtest.Open(t, engine, pg, audit.Migrations())
			log := audit.New(d)
			// 300 public joins sharing a transaction: two of three without
			// credentials, every third by a signed-in member.
			var items []audit.Item
			for i := range 300 {
				c := context.Background()
				if i%3 == 2 {
					c = ada
				}
				items = append(items, audit.Item{Ctx: c, Community: "demo", Action: "member.joined", TargetType: "member", TargetID: fmt.Sprintf("m%03d", i)})
			}
			// Without a context of its own an item is RecordAllAnonymous's
			// caller's: anonymous here.
			items = append(items, audit.Item{Community: "other", Action: "member.joined", TargetType: "member", TargetID: "elsewhere"})
			if err := d.InTx(context.Background(), func(tx *sql.Tx) error {
				return log.RecordAllAnonymous(context.Background(), tx, items...)
			}); err != nil {
				t.Fatal(err)
			}
			got := oldestFirst(t, ada, log, "demo", 300)
			for i, e := range got {
				wantKind, wantID := audit.KindAnonymous, ""
				if i%3 == 2 {
					wantKind, wantID = string(auth.KindUser), "ada"
				}
				if e.TargetID != fmt.Sprintf("m%03d", i) || e.ActorKind != wantKind || e.ActorID != wantID || e.Action != "member.joined" || e.TargetType != "member" {
					t.Fatalf("entry %d = %+v, want m%03d by %s %q", i, e, i, wantKind, wantID)
				}
			}
			other, err := log.List(ada, "other", "", 10)
			if err != nil || len(other) != 1 || other[0].ActorKind != audit.KindAnonymous || other[0].ActorID != "" {
				t.Errorf("other's entries = %+v, %v; want one anonymous entry", other, err)
			}
			if err := d.InTx(ada, func(tx *sql.Tx) error { return log.RecordAllAnonymous(ada, tx) }); err != nil {
				t.Errorf("recording nothing: %v", err)
			}
		})
	}
}

// oldestFirst lists community's entries, oldest first, and fails unless
// there are exactly want.
func oldestFirst(t *testing.T, ctx context.Context, log *audit.Log, community string, want int) []audit.Entry {
	t.Helper()
	got, err := log.List(ctx, community, "", want+1)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(got)
	if len(got) != want {
		t.Fatalf("%s has %d entries, want %d", community, len(got), want)
	}
	return got
}
