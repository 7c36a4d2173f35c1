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

func newStore(t *testing.T, engine string, ob store.Outbox) (*store.Store, *db.DB) {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), store.Migrations())
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
	return s, d
}

func member(t *testing.T, community, email string) (domain.Member, kafka.Event) {
	t.Helper()
	m, err := domain.NewMember(domain.JoinRequest{Community: community, Email: email, DisplayName: "Ada", Interests: []string{"solar", "climate"}},
		uuid.Must(uuid.NewV7()).String(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e, err := events.MemberJoined(uuid.NewString(), m)
	if err != nil {
		t.Fatal(err)
	}
	return m, e
}

func count(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()

			t.Run("a join stores the member, its interests and its event together", func(t *testing.T) {
				s, d := newStore(t, engine, nil)
				m, e := member(t, "demo", "ada@example.org")
				if err := s.CreateMember(ctx, m, e); err != nil {
					t.Fatal(err)
				}
				got, err := s.GetMember(ctx, "demo", m.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Email != m.Email || got.DisplayName != m.DisplayName || !slices.Equal(got.Interests, []string{"climate", "solar"}) ||
					got.Status != domain.StatusActive || !got.JoinedAt.Equal(m.JoinedAt) {
					t.Errorf("GetMember = %+v, want %+v", got, m)
				}
				var eventID string
				if err := d.QueryRow("SELECT event_id FROM outbox").Scan(&eventID); err != nil || eventID != e.ID {
					t.Errorf("outbox event = %q (%v), want %q", eventID, err, e.ID)
				}
			})

			t.Run("the same e-mail twice in a community is refused and publishes once", func(t *testing.T) {
				s, d := newStore(t, engine, nil)
				m1, e1 := member(t, "demo", "ada@example.org")
				m2, e2 := member(t, "demo", "ada@example.org")
				if err := s.CreateMember(ctx, m1, e1); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateMember(ctx, m2, e2); !errors.Is(err, domain.ErrEmailTaken) {
					t.Fatalf("second join error = %v, want ErrEmailTaken", err)
				}
				if n := count(t, d, "members"); n != 1 {
					t.Errorf("members = %d, want 1", n)
				}
				if n := count(t, d, "outbox"); n != 1 {
					t.Errorf("outbox events = %d, want 1", n)
				}
				m3, e3 := member(t, "other", "ada@example.org")
				if err := s.CreateMember(ctx, m3, e3); err != nil {
					t.Errorf("same e-mail in another community: %v", err)
				}
			})

			t.Run("an unknown community stores and publishes nothing", func(t *testing.T) {
				s, d := newStore(t, engine, nil)
				m, e := member(t, "nowhere", "ada@example.org")
				if err := s.CreateMember(ctx, m, e); !errors.Is(err, domain.ErrUnknownCommunity) {
					t.Fatalf("error = %v, want ErrUnknownCommunity", err)
				}
				if count(t, d, "members")+count(t, d, "member_interests")+count(t, d, "outbox") != 0 {
					t.Error("something was stored")
				}
			})

			t.Run("a failing outbox append leaves no member behind", func(t *testing.T) {
				s, d := newStore(t, engine, failingOutbox{})
				m, e := member(t, "demo", "ada@example.org")
				if err := s.CreateMember(ctx, m, e); err == nil {
					t.Fatal("CreateMember succeeded although the event could not be appended")
				}
				if count(t, d, "members")+count(t, d, "member_interests") != 0 {
					t.Error("member stored without its event")
				}
			})

			t.Run("members are confined to their community", func(t *testing.T) {
				s, _ := newStore(t, engine, nil)
				m, e := member(t, "demo", "ada@example.org")
				if err := s.CreateMember(ctx, m, e); err != nil {
					t.Fatal(err)
				}
				if _, err := s.GetMember(ctx, "other", m.ID); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("GetMember from another community error = %v, want ErrNotFound", err)
				}
				if _, err := s.GetMember(ctx, "demo", "missing"); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("GetMember of a missing id error = %v, want ErrNotFound", err)
				}
				if got, _ := s.ListMembers(ctx, "other", "", 10); len(got) != 0 {
					t.Errorf("ListMembers of another community = %d members", len(got))
				}
			})

			t.Run("list pages through members in join order", func(t *testing.T) {
				s, _ := newStore(t, engine, nil)
				var want []string
				for i := range 7 {
					m, e := member(t, "demo", fmt.Sprintf("m%d@example.org", i))
					if err := s.CreateMember(ctx, m, e); err != nil {
						t.Fatal(err)
					}
					want = append(want, m.ID)
				}
				var got []string
				after := ""
				for {
					page, err := s.ListMembers(ctx, "demo", after, 3)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range page {
						got = append(got, m.ID)
						if len(m.Interests) != 2 {
							t.Errorf("member %s interests = %v", m.ID, m.Interests)
						}
					}
					if len(page) < 3 {
						break
					}
					after = page[len(page)-1].ID
				}
				if !slices.Equal(got, want) {
					t.Errorf("paged ids = %v, want %v", got, want)
				}
			})
		})
	}
}

type failingOutbox struct{}

func (failingOutbox) Append(context.Context, *sql.Tx, kafka.Event) error {
	return errors.New("outbox table unavailable")
}
func (failingOutbox) Notify() {}
