package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

var ctx = context.Background()

func open(t *testing.T, engine string, zones map[string]*time.Location) (*store.Store, *db.DB) {
	t.Helper()
	d := dbtest.Open(t, engine, pg, store.Migrations())
	s := store.New(d, zones)
	if _, err := s.EnsureCommunities(ctx); err != nil {
		t.Fatal(err)
	}
	return s, d
}

func utc(communities ...string) map[string]*time.Location {
	out := map[string]*time.Location{}
	for _, c := range communities {
		out[c] = time.UTC
	}
	return out
}

func inTx(t *testing.T, d *db.DB, fn func(tx *sql.Tx) error) {
	t.Helper()
	if err := d.InTx(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(s string) domain.Day {
	d, _, err := domain.ParseDay("d", s)
	if err != nil {
		panic(err)
	}
	return d
}

// level reads a bucket's value on one day.
func value(t *testing.T, s *store.Store, community, bucket, dim, on string) float64 {
	t.Helper()
	v, err := s.Buckets(ctx, community, bucket, dim, day(on), day(on))
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, vals := range v {
		sum += vals[0]
	}
	return sum
}

func TestTheSameFactCountsOnceAndCommunitiesStayApart(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			s, d := open(t, engine, utc("demo", "other"))
			join := func(tx *sql.Tx, community, id string) error {
				return s.JoinMember(ctx, tx, community, id, func(m *domain.Member) (bool, error) {
					m.JoinedAt = domain.Earliest(m.JoinedAt, at("2026-03-02T10:00:00Z"))
					return true, nil
				})
			}
			for range 2 {
				inTx(t, d, func(tx *sql.Tx) error {
					if err := join(tx, "demo", "m1"); err != nil {
						return err
					}
					if err := s.AddActivity(ctx, tx, "demo", store.Activity{ID: "a1", MemberID: "m1", Type: "posted", At: at("2026-03-03T10:00:00Z")}); err != nil {
						return err
					}
					if err := s.AddContribution(ctx, tx, "demo", domain.Contribution{ID: "c1", PartnerID: "p", Kind: "money", Day: day("2026-03-03"),
						Currency: "EUR", AmountMinor: 500}); err != nil {
						return err
					}
					return s.AddUnsubscribe(ctx, tx, "demo", domain.Unsubscribe{MemberID: "m1", Purpose: "email.digest", At: at("2026-03-04T10:00:00Z")})
				})
			}
			inTx(t, d, func(tx *sql.Tx) error { return join(tx, "other", "m1") })
			for _, c := range []struct {
				bucket, dim, on string
				want            float64
			}{
				{domain.BucketMembers, "", "2026-03-05", 1}, {domain.BucketNewcomers, "", "2026-03-02", 1}, {domain.BucketActive, "", "2026-03-05", 1},
				{domain.BucketMoney, "EUR", "2026-03-03", 500}, {domain.BucketContributions, "", "2026-03-03", 1},
				{domain.BucketUnsubscribed, "email", "2026-03-04", 1},
			} {
				if got := value(t, s, "demo", c.bucket, c.dim, c.on); got != c.want {
					t.Errorf("%s[%s] on %s = %v, want %v", c.bucket, c.dim, c.on, got, c.want)
				}
			}
			if got := value(t, s, "other", domain.BucketActive, "", "2026-03-05"); got != 0 {
				t.Errorf("demo's activity counts in other: %v", got)
			}
			counts, err := s.Counts(ctx, "demo")
			if err != nil {
				t.Fatal(err)
			}
			if counts["members"] != 1 || counts["activities"] != 1 || counts["contributions"] != 1 || counts["unsubscribes"] != 1 {
				t.Errorf("facts %v", counts)
			}
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				return s.AddActivity(ctx, tx, "nowhere", store.Activity{ID: "x", MemberID: "m", At: time.Now()})
			}); !errors.Is(err, store.ErrUnknownCommunity) {
				t.Errorf("a fact of a community not served: %v", err)
			}
		})
	}
}

func TestAMergedMemberCountsForTheOneItWasFoldedInto(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			s, d := open(t, engine, utc("demo"))
			join := func(tx *sql.Tx, id, when string) error {
				return s.JoinMember(ctx, tx, "demo", id, func(m *domain.Member) (bool, error) {
					m.JoinedAt = at(when)
					return true, nil
				})
			}
			inTx(t, d, func(tx *sql.Tx) error {
				if err := join(tx, "primary", "2026-03-01T10:00:00Z"); err != nil {
					return err
				}
				if err := join(tx, "dup", "2026-03-02T10:00:00Z"); err != nil {
					return err
				}
				if err := s.AddActivity(ctx, tx, "demo", store.Activity{ID: "a1", MemberID: "dup", Type: "posted", At: at("2026-03-03T10:00:00Z")}); err != nil {
					return err
				}
				if err := s.MergeMembers(ctx, tx, "demo", "primary", "dup"); err != nil {
					return err
				}
				// Late events about the duplicate: its joining no longer
				// counts, its activity counts for the primary.
				if err := join(tx, "dup", "2026-03-02T10:00:00Z"); err != nil {
					return err
				}
				return s.AddActivity(ctx, tx, "demo", store.Activity{ID: "a2", MemberID: "dup", Type: "posted", At: at("2026-03-20T10:00:00Z")})
			})
			if got := value(t, s, "demo", domain.BucketMembers, "", "2026-03-25"); got != 1 {
				t.Errorf("members after the merge: %v", got)
			}
			if got := value(t, s, "demo", domain.BucketActive, "", "2026-03-25"); got != 1 {
				t.Errorf("active after the merge: %v", got)
			}
			members, err := s.Members(ctx, "demo", store.MemberQuery{WithDays: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(members) != 1 || members[0].ID != "primary" || len(members[0].Days) != 2 {
				t.Errorf("members %+v", members)
			}
		})
	}
}

func TestLevelsAreReadWithEverythingBeforeTheRange(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			s, d := open(t, engine, utc("demo"))
			inTx(t, d, func(tx *sql.Tx) error {
				for i, when := range []string{"2025-01-10T10:00:00Z", "2026-03-01T10:00:00Z", "2026-03-03T10:00:00Z"} {
					id := string(rune('a' + i))
					if err := s.JoinMember(ctx, tx, "demo", id, func(m *domain.Member) (bool, error) {
						m.JoinedAt = at(when)
						return true, nil
					}); err != nil {
						return err
					}
				}
				return s.UpdateMember(ctx, tx, "demo", "a", func(m *domain.Member) (bool, error) {
					m.LeftAt = at("2026-03-02T12:00:00Z")
					return true, nil
				})
			})
			got, err := s.Buckets(ctx, "demo", domain.BucketMembers, "", day("2026-03-01"), day("2026-03-04"))
			if err != nil {
				t.Fatal(err)
			}
			want := []float64{2, 1, 2, 2}
			for i := range want {
				if got[""][i] != want[i] {
					t.Fatalf("members 1..4 March = %v, want %v", got[""], want)
				}
			}
		})
	}
}

func TestANewTimeZoneMovesTheDays(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			s, d := open(t, engine, utc("demo"))
			// 23:30 UTC on 2 March is 3 March in Berlin.
			inTx(t, d, func(tx *sql.Tx) error {
				return s.AddActivity(ctx, tx, "demo", store.Activity{ID: "a1", MemberID: "m", Type: "posted", At: at("2026-03-02T23:30:00Z")})
			})
			berlin, _ := time.LoadLocation("Europe/Berlin")
			moved := store.New(d, map[string]*time.Location{"demo": berlin})
			changed, err := moved.EnsureCommunities(ctx)
			if err != nil || len(changed) != 1 || changed[0] != "demo" {
				t.Fatalf("changed %v %v", changed, err)
			}
			inTx(t, d, func(tx *sql.Tx) error { return moved.Recompute(ctx, tx, "demo") })
			members, err := moved.Members(ctx, "demo", store.MemberQuery{WithDays: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(members) != 1 || len(members[0].Days) != 1 || members[0].Days[0].String() != "2026-03-03" {
				t.Errorf("members %+v", members)
			}
			if again, err := moved.EnsureCommunities(ctx); err != nil || len(again) != 0 {
				t.Errorf("a second start recomputes %v %v", again, err)
			}
		})
	}
}

func TestGoalsAreKeptWithTheirAuditEntryOrNotAtAll(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			s, _ := open(t, engine, utc("demo"))
			now := at("2026-03-15T10:00:00Z")
			audits := 0
			audit := func(*sql.Tx) error { audits++; return nil }
			failing := func(*sql.Tx) error { return errors.New("audit log unavailable") }
			g := domain.Goal{Community: "demo", GoalSpec: domain.GoalSpec{Name: "grow", Metric: "members.total", Target: 10, Baseline: day("2026-03-15")},
				Source: domain.SourceAPI, CreatedAt: now, UpdatedAt: now}
			if err := s.CreateGoal(ctx, g, failing); err == nil {
				t.Fatal("a goal was created without its audit entry")
			}
			if _, err := s.Goal(ctx, "demo", "grow"); !errors.Is(err, domain.ErrGoalNotFound) {
				t.Fatalf("a goal whose audit failed is there: %v", err)
			}
			if err := s.CreateGoal(ctx, g, audit); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateGoal(ctx, g, audit); !errors.Is(err, domain.ErrGoalExists) {
				t.Errorf("creating twice: %v", err)
			}
			if _, err := s.ArchiveGoal(ctx, "demo", "grow", now, audit); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ArchiveGoal(ctx, "demo", "grow", now, audit); err != nil {
				t.Fatal(err)
			}
			if audits != 2 {
				t.Errorf("%d audit entries for a creation and two archivings, want 2", audits)
			}
			// An archived API goal's name may be used again.
			if err := s.CreateGoal(ctx, g, audit); err != nil {
				t.Errorf("reusing an archived goal's name: %v", err)
			}
			res := domain.Goal{Community: "demo", GoalSpec: domain.GoalSpec{Name: "engage", Metric: "members.active", Target: 3, Baseline: day("2026-03-15")}}
			if _, err := s.SyncGoals(ctx, "demo", []domain.Goal{res}, now, audit); err != nil {
				t.Fatal(err)
			}
			if _, err := s.UpdateGoal(ctx, "demo", "engage", func(*domain.Goal) error { return nil }, audit); !errors.Is(err, domain.ErrManaged) {
				t.Errorf("changing the resource's goal: %v", err)
			}
			archived, err := s.SyncGoals(ctx, "demo", nil, now, audit)
			if err != nil || len(archived) != 1 || archived[0] != "engage" {
				t.Errorf("syncing no goals archived %v %v", archived, err)
			}
			live, err := s.Goals(ctx, "demo", false)
			if err != nil || len(live) != 1 || live[0].Name != "grow" {
				t.Errorf("live goals %+v %v", live, err)
			}
			all, err := s.Goals(ctx, "demo", true)
			if err != nil || len(all) != 2 {
				t.Errorf("all goals %+v %v", all, err)
			}
		})
	}
}

func TestAWipeForgetsFactsAndKeepsGoals(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			s, d := open(t, engine, utc("demo", "other"))
			now := at("2026-03-15T10:00:00Z")
			for _, c := range []string{"demo", "other"} {
				inTx(t, d, func(tx *sql.Tx) error {
					return s.AddActivity(ctx, tx, c, store.Activity{ID: "a1", MemberID: "m", Type: "posted", At: now})
				})
			}
			if err := s.CreateGoal(ctx, domain.Goal{Community: "demo", GoalSpec: domain.GoalSpec{Name: "g", Metric: "members.total", Target: 1},
				Source: domain.SourceAPI, CreatedAt: now, UpdatedAt: now}, func(*sql.Tx) error { return nil }); err != nil {
				t.Fatal(err)
			}
			inTx(t, d, func(tx *sql.Tx) error { return s.Wipe(ctx, tx, "demo") })
			demo, _ := s.Counts(ctx, "demo")
			other, _ := s.Counts(ctx, "other")
			for k, n := range demo {
				if n != 0 {
					t.Errorf("demo still holds %d %s", n, k)
				}
			}
			if other["activities"] != 1 || other["members"] != 1 {
				t.Errorf("other lost its facts: %v", other)
			}
			if _, err := s.Goal(ctx, "demo", "g"); err != nil {
				t.Errorf("the goal went with the wipe: %v", err)
			}
		})
	}
}
