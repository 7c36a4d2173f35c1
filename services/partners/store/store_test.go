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
	"google.golang.org/protobuf/proto"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

type fixture struct {
	s   *store.Store
	db  *db.DB
	log *audit.Log
	ctx context.Context
}

// now is the fixtures' clock: mid-March 2026.
var now = time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T, engine string, ob store.Outbox) fixture {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), audit.Migrations(), store.Migrations())
	return openStore(t, d, ob)
}

// openStore opens a store over an existing database, as a restarted
// service would.
func openStore(t *testing.T, d *db.DB, ob store.Outbox) fixture {
	t.Helper()
	if ob == nil {
		ob = outbox.New(d, propagation.TraceContext{})
	}
	s := store.New(d, ob, audit.New(d))
	if err := s.EnsureCommunities(context.Background(), "demo", "other"); err != nil {
		t.Fatal(err)
	}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "organiser-1", Community: "demo",
		Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	return fixture{s: s, db: d, log: audit.New(d), ctx: ctx}
}

func (f fixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// published returns the types of the events in the outbox, in order.
func (f fixture) published(t *testing.T) []string {
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

func id() string { return uuid.Must(uuid.NewV7()).String() }

func (f fixture) partner(t *testing.T, community, name string, mutate ...func(*domain.PartnerInput)) domain.Partner {
	t.Helper()
	in := domain.PartnerInput{Name: name, Kind: domain.KindSponsor, CountryCode: "DE", Influence: 4, Interest: 5, OwnerID: "organiser-1",
		NextReviewDate: "2026-04-01"}
	for _, m := range mutate {
		m(&in)
	}
	p, err := domain.NewPartner(community, in, id(), now)
	if err != nil {
		t.Fatal(err)
	}
	e, err := events.Factory{}.PartnerAdded(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreatePartner(f.ctx, p, "organiser-1", e); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("partners", func(t *testing.T) { testPartners(t, engine) })
			t.Run("contacts", func(t *testing.T) { testContacts(t, engine) })
			t.Run("agreements", func(t *testing.T) { testAgreements(t, engine) })
			t.Run("expiry sweep", func(t *testing.T) { testSweep(t, engine) })
			t.Run("contributions", func(t *testing.T) { testContributions(t, engine) })
			t.Run("interactions", func(t *testing.T) { testInteractions(t, engine) })
		})
	}
}

func testPartners(t *testing.T, engine string) {
	t.Run("a partner is stored with its first status and its event", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		got, err := f.s.GetPartner(f.ctx, "demo", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Solar Co-op" || got.Kind != domain.KindSponsor || got.Status != domain.StatusProspect || got.CountryCode != "DE" ||
			got.Stakeholder != p.Stakeholder || got.Stakeholder.NextReview.String() != "2026-04-01" || !got.AddedAt.Equal(p.AddedAt) {
			t.Errorf("GetPartner = %+v, want %+v", got, p)
		}
		history, err := f.s.StatusHistory(f.ctx, "demo", p.ID)
		if err != nil || len(history) != 1 || history[0].From != "" || history[0].To != domain.StatusProspect || history[0].ChangedBy != "organiser-1" {
			t.Errorf("history = %+v, %v", history, err)
		}
		if got := f.published(t); !slices.Equal(got, []string{events.TypePartnerAdded}) {
			t.Errorf("outbox = %v", got)
		}
	})

	t.Run("the same name twice in a community is refused, whatever its case", func(t *testing.T) {
		f := newStore(t, engine, nil)
		f.partner(t, "demo", "Solar Co-op")
		dup, _ := domain.NewPartner("demo", domain.PartnerInput{Name: "solar  CO-OP", Kind: domain.KindNGO}, id(), now)
		e, _ := events.Factory{}.PartnerAdded(dup)
		if err := f.s.CreatePartner(f.ctx, dup, "organiser-1", e); !errors.Is(err, domain.ErrNameTaken) {
			t.Fatalf("error = %v, want ErrNameTaken", err)
		}
		if f.count(t, "partners") != 1 || f.count(t, "partner_status_history") != 1 || f.count(t, "outbox") != 1 {
			t.Error("the refused partner left rows behind")
		}
		f.partner(t, "other", "Solar Co-op")
	})

	t.Run("an unknown community or a failing outbox stores nothing", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p, _ := domain.NewPartner("nowhere", domain.PartnerInput{Name: "X", Kind: domain.KindNGO}, id(), now)
		if err := f.s.CreatePartner(f.ctx, p, "o", kafka.Event{}); !errors.Is(err, domain.ErrUnknownCommunity) {
			t.Fatalf("error = %v, want ErrUnknownCommunity", err)
		}
		failing := openStore(t, f.db, failingOutbox{})
		p, _ = domain.NewPartner("demo", domain.PartnerInput{Name: "X", Kind: domain.KindNGO}, id(), now)
		e, _ := events.Factory{}.PartnerAdded(p)
		if err := failing.s.CreatePartner(f.ctx, p, "o", e); err == nil {
			t.Fatal("CreatePartner succeeded although its event could not be appended")
		}
		if f.count(t, "partners")+f.count(t, "partner_status_history")+f.count(t, "outbox") != 0 {
			t.Error("something was stored")
		}
	})

	t.Run("partners are confined to their community", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		if _, err := f.s.GetPartner(f.ctx, "other", p.ID); !errors.Is(err, domain.ErrPartnerNotFound) {
			t.Errorf("GetPartner from another community = %v", err)
		}
		if got, _ := f.s.ListPartners(f.ctx, "other", store.PartnerFilter{}, "", 10); len(got) != 0 {
			t.Errorf("other community lists %d partners", len(got))
		}
		if h, _ := f.s.StatusHistory(f.ctx, "other", p.ID); len(h) != 0 {
			t.Error("status history crossed communities")
		}
		if _, err := f.s.UpdatePartner(f.ctx, "other", p.ID, func(p domain.Partner) (domain.Partner, []kafka.Event, error) { return p, nil, nil }); !errors.Is(err, domain.ErrPartnerNotFound) {
			t.Errorf("UpdatePartner from another community = %v", err)
		}
	})

	t.Run("list pages in the order partners were added and filters", func(t *testing.T) {
		f := newStore(t, engine, nil)
		var want []string
		for i := range 5 {
			kind := domain.KindSponsor
			if i%2 == 1 {
				kind = domain.KindMedia
			}
			want = append(want, f.partner(t, "demo", fmt.Sprintf("P%d", i), func(in *domain.PartnerInput) { in.Kind = kind }).ID)
		}
		var got []string
		for after := ""; ; {
			page, err := f.s.ListPartners(f.ctx, "demo", store.PartnerFilter{}, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page {
				got = append(got, p.ID)
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged = %v, want %v", got, want)
		}
		media, _ := f.s.ListPartners(f.ctx, "demo", store.PartnerFilter{Kinds: []domain.PartnerKind{domain.KindMedia}}, "", 10)
		active, _ := f.s.ListPartners(f.ctx, "demo", store.PartnerFilter{Statuses: []domain.Status{domain.StatusActive}}, "", 10)
		if len(media) != 2 || len(active) != 0 {
			t.Errorf("filtered: %d media, %d active", len(media), len(active))
		}
	})

	t.Run("an update and a status change are stored with their events and history", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		f.partner(t, "demo", "Wind Co-op")
		updated, err := f.s.UpdatePartner(f.ctx, "demo", p.ID, func(cur domain.Partner) (domain.Partner, []kafka.Event, error) {
			cur.Stakeholder.Influence, cur.Stakeholder.NextReview = 2, domain.Date{}
			e, err := events.Factory{}.PartnerUpdated(cur, []string{"stakeholder.influence"})
			return cur, []kafka.Event{e}, err
		})
		if err != nil || updated.Stakeholder.Influence != 2 {
			t.Fatalf("UpdatePartner = %+v, %v", updated, err)
		}
		got, _ := f.s.GetPartner(f.ctx, "demo", p.ID)
		if got.Stakeholder.Influence != 2 || !got.Stakeholder.NextReview.IsZero() {
			t.Errorf("after update = %+v", got.Stakeholder)
		}
		_, err = f.s.UpdatePartner(f.ctx, "demo", p.ID, func(cur domain.Partner) (domain.Partner, []kafka.Event, error) {
			cur.Name = "WIND CO-OP"
			e, err := events.Factory{}.PartnerUpdated(cur, []string{"name"})
			return cur, []kafka.Event{e}, err
		})
		if !errors.Is(err, domain.ErrNameTaken) {
			t.Errorf("renaming onto another partner = %v, want ErrNameTaken", err)
		}

		move := func(to domain.Status) error {
			_, err := f.s.ChangeStatus(f.ctx, "demo", p.ID, func(cur domain.Partner) (domain.StatusChange, []kafka.Event, error) {
				sc, err := domain.NewStatusChange(cur, to, "met at the fair", "organiser-2", now)
				if err != nil {
					return sc, nil, err
				}
				e, err := events.Factory{}.PartnerStatusChanged("demo", sc)
				return sc, []kafka.Event{e}, err
			})
			return err
		}
		if err := move(domain.StatusActive); err == nil {
			t.Error("a prospect skipped the pipeline to active")
		}
		for _, to := range []domain.Status{domain.StatusInConversation, domain.StatusActive, domain.StatusLapsed} {
			if err := move(to); err != nil {
				t.Fatalf("move to %s: %v", to, err)
			}
		}
		history, _ := f.s.StatusHistory(f.ctx, "demo", p.ID)
		var path []string
		for _, h := range history {
			path = append(path, string(h.From)+">"+string(h.To))
		}
		if !slices.Equal(path, []string{">prospect", "prospect>in_conversation", "in_conversation>active", "active>lapsed"}) ||
			history[1].ChangedBy != "organiser-2" || history[1].Note != "met at the fair" {
			t.Errorf("history = %v / %+v", path, history[1])
		}
		want := []string{events.TypePartnerAdded, events.TypePartnerAdded, events.TypePartnerUpdated,
			events.TypePartnerStatusChanged, events.TypePartnerStatusChanged, events.TypePartnerStatusChanged}
		if got := f.published(t); !slices.Equal(got, want) {
			t.Errorf("outbox = %v, want %v", got, want)
		}
	})

	t.Run("a status change that raced another is refused", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		_, err := f.s.ChangeStatus(f.ctx, "demo", p.ID, func(cur domain.Partner) (domain.StatusChange, []kafka.Event, error) {
			// Decided against a stale read: the partner was in conversation.
			return domain.StatusChange{PartnerID: p.ID, From: domain.StatusInConversation, To: domain.StatusActive, ChangedAt: now, ChangedBy: "o"}, nil, nil
		})
		if !errors.Is(err, domain.ErrConflict) {
			t.Errorf("error = %v, want ErrConflict", err)
		}
		if got, _ := f.s.GetPartner(f.ctx, "demo", p.ID); got.Status != domain.StatusProspect || f.count(t, "partner_status_history") != 1 {
			t.Error("the refused change was stored")
		}
	})

	t.Run("partners due for review come earliest first", func(t *testing.T) {
		f := newStore(t, engine, nil)
		late := f.partner(t, "demo", "Late", func(in *domain.PartnerInput) { in.NextReviewDate = "2026-03-01" })
		today := f.partner(t, "demo", "Today", func(in *domain.PartnerInput) { in.NextReviewDate = "2026-03-15" })
		f.partner(t, "demo", "Later", func(in *domain.PartnerInput) { in.NextReviewDate = "2026-03-16" })
		f.partner(t, "demo", "Never", func(in *domain.PartnerInput) { in.NextReviewDate = "" })
		f.partner(t, "other", "Elsewhere", func(in *domain.PartnerInput) { in.NextReviewDate = "2026-01-01" })
		due, err := f.s.DueForReview(f.ctx, "demo", domain.MustDate("2026-03-15"), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 2 || due[0].ID != late.ID || due[1].ID != today.ID {
			t.Errorf("due = %v", due)
		}
		if one, _ := f.s.DueForReview(f.ctx, "demo", domain.MustDate("2026-12-31"), 1); len(one) != 1 || one[0].ID != late.ID {
			t.Errorf("limited = %v", one)
		}
	})
}

type failingOutbox struct{}

func (failingOutbox) Append(context.Context, *sql.Tx, kafka.Event) error {
	return errors.New("outbox is full")
}
func (failingOutbox) Notify() {}

func testContacts(t *testing.T, engine string) {
	contact := func(t *testing.T, f fixture, partnerID, name string, primary bool, consent bool) domain.Contact {
		t.Helper()
		c, err := domain.NewContact("demo", partnerID, domain.ContactInput{Name: name, Email: name + "@example.org", Phone: "+49 30 1234567",
			Role: "CSR lead", Primary: primary}, id(), now)
		if err != nil {
			t.Fatal(err)
		}
		var rec *domain.ConsentRecord
		if consent {
			r, err := domain.NewConsentAtAdd(c.ID, "business-card", "2026-01", now)
			if err != nil {
				t.Fatal(err)
			}
			rec = &r
		}
		if err := f.s.CreateContact(f.ctx, c, rec); err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("one primary contact per partner; a new primary takes over", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		ada := contact(t, f, p.ID, "ada", true, false)
		grace := contact(t, f, p.ID, "grace", true, true)
		list, err := f.s.ListContacts(f.ctx, "demo", p.ID)
		if err != nil || len(list) != 2 || list[0].ID != grace.ID || !list[0].Primary || list[1].Primary || !list[0].EmailConsent {
			t.Fatalf("contacts = %+v, %v", list, err)
		}
		updated, err := f.s.UpdateContact(f.ctx, "demo", ada.ID, func(c domain.Contact) (domain.Contact, error) {
			c.Primary = true
			return c, nil
		})
		if err != nil || !updated.Primary {
			t.Fatalf("UpdateContact = %+v, %v", updated, err)
		}
		if g, _ := f.s.GetContact(f.ctx, "demo", grace.ID); g.Primary {
			t.Error("two primary contacts")
		}
		if _, err := f.s.ListContacts(f.ctx, "demo", "nope"); !errors.Is(err, domain.ErrPartnerNotFound) {
			t.Errorf("contacts of a missing partner = %v", err)
		}
		stray, _ := domain.NewContact("demo", "nope", domain.ContactInput{Name: "X"}, id(), now)
		if err := f.s.CreateContact(f.ctx, stray, nil); !errors.Is(err, domain.ErrUnknownPartner) {
			t.Errorf("contact of a missing partner = %v, want ErrUnknownPartner", err)
		}
		if _, err := f.s.GetContact(f.ctx, "other", ada.ID); !errors.Is(err, domain.ErrContactNotFound) {
			t.Errorf("contact from another community = %v", err)
		}
	})

	t.Run("consent is a ledger; the current consent follows the last record", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		c := contact(t, f, p.ID, "ada", false, true)
		rec, _ := domain.NewConsentRecord(c.ID, false, "phone-call", "2026-02", now.Add(time.Hour))
		got, err := f.s.RecordContactConsent(f.ctx, "demo", rec)
		if err != nil || got.EmailConsent {
			t.Fatalf("withdrawal = %+v, %v", got, err)
		}
		ledger, err := f.s.ContactConsents(f.ctx, "demo", c.ID)
		if err != nil || len(ledger) != 2 || !ledger[0].Granted || ledger[1].Granted || ledger[1].Source != "phone-call" || ledger[1].PolicyVersion != "2026-02" {
			t.Errorf("ledger = %+v, %v", ledger, err)
		}
	})

	t.Run("erasure scrubs the personal data, keeps the id and is audited", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		c := contact(t, f, p.ID, "ada", true, true)
		erased, err := f.s.EraseContact(f.ctx, "demo", c.ID, now)
		if err != nil || !erased.Erased || erased.Name != "" || erased.ErasedAt.IsZero() {
			t.Fatalf("EraseContact = %+v, %v", erased, err)
		}
		var name, email, phone, role string
		var primary, consent bool
		if err := f.db.QueryRow(f.db.Rebind("SELECT name, email, phone, role, is_primary, email_consent FROM contacts WHERE id = ?"), c.ID).
			Scan(&name, &email, &phone, &role, &primary, &consent); err != nil {
			t.Fatal(err)
		}
		if name+email+phone+role != "" || primary || consent {
			t.Errorf("erased row still holds %q %q %q %q primary=%v consent=%v", name, email, phone, role, primary, consent)
		}
		ledger, _ := f.s.ContactConsents(f.ctx, "demo", c.ID)
		if len(ledger) != 1 || ledger[0].Source != "erased" {
			t.Errorf("ledger after erasure = %+v", ledger)
		}
		// Newest first: the erasure, after the partner and the contact were added.
		entries, err := f.log.List(f.ctx, "demo", "", 10)
		if err != nil || len(entries) != 3 || entries[0].Action != "contact.erased" || entries[0].TargetID != c.ID || entries[0].ActorID != "organiser-1" {
			t.Errorf("audit = %+v, %v", entries, err)
		}
		if list, _ := f.s.ListContacts(f.ctx, "demo", p.ID); len(list) != 0 {
			t.Error("an erased contact is still listed")
		}
		if _, err := f.s.EraseContact(f.ctx, "demo", c.ID, now); !errors.Is(err, domain.ErrContactErased) {
			t.Errorf("erasing twice = %v", err)
		}
		rec, _ := domain.NewConsentRecord(c.ID, true, "form", "v1", now)
		if _, err := f.s.RecordContactConsent(f.ctx, "demo", rec); !errors.Is(err, domain.ErrContactErased) {
			t.Errorf("consent of an erased contact = %v", err)
		}
	})
}

func draft(t *testing.T, f fixture, partnerID, start, end string) domain.Agreement {
	t.Helper()
	a, err := domain.NewAgreement("demo", partnerID, domain.AgreementInput{Kind: domain.AgreementSponsorship, Title: "Sponsorship",
		StartDate: start, EndDate: end, Value: domain.Money{Currency: "EUR", Minor: 250000}}, id(), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateAgreement(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func sign(t *testing.T, f fixture, a domain.Agreement, on string) domain.Agreement {
	t.Helper()
	signed, err := f.s.ChangeAgreement(f.ctx, "demo", a.ID, func(cur domain.Agreement) (store.AgreementChange, error) {
		next, err := cur.Sign(on, domain.DateOf(now), now)
		if err != nil {
			return store.AgreementChange{}, err
		}
		e, err := events.Factory{}.AgreementSigned(next, false)
		return store.AgreementChange{Agreement: next, Events: []kafka.Event{e}, Action: domain.ActionAgreementSigned}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func testAgreements(t *testing.T, engine string) {
	t.Run("an agreement round-trips its dates and value", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		a := draft(t, f, p.ID, "2026-01-01", "2026-12-31")
		got, err := f.s.GetAgreement(f.ctx, "demo", a.ID)
		if err != nil || got.Start != a.Start || got.End != a.End || got.Value != a.Value || got.Status != domain.AgreementDraft ||
			!got.SignedOn.IsZero() || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("GetAgreement = %+v, %v; want %+v", got, err, a)
		}
		open, _ := domain.NewAgreement("demo", p.ID, domain.AgreementInput{Kind: domain.AgreementMoU, Title: "MoU", StartDate: "2026-01-01"}, id(), now)
		if err := f.s.CreateAgreement(f.ctx, open); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.s.GetAgreement(f.ctx, "demo", open.ID); !got.End.IsZero() || !got.Value.IsZero() {
			t.Errorf("open-ended MoU = %+v", got)
		}
		stray, _ := domain.NewAgreement("other", p.ID, domain.AgreementInput{Kind: domain.AgreementMoU, Title: "MoU", StartDate: "2026-01-01"}, id(), now)
		if err := f.s.CreateAgreement(f.ctx, stray); !errors.Is(err, domain.ErrUnknownPartner) {
			t.Errorf("agreement with another community's partner = %v", err)
		}
		if _, err := f.s.GetAgreement(f.ctx, "other", a.ID); !errors.Is(err, domain.ErrAgreementNotFound) {
			t.Errorf("agreement from another community = %v", err)
		}
		drafts, _ := f.s.ListAgreements(f.ctx, "demo", store.AgreementFilter{PartnerID: p.ID, Statuses: []domain.AgreementStatus{domain.AgreementDraft}}, "", 10)
		signed, _ := f.s.ListAgreements(f.ctx, "demo", store.AgreementFilter{Statuses: []domain.AgreementStatus{domain.AgreementSigned}}, "", 10)
		if len(drafts) != 2 || len(signed) != 0 {
			t.Errorf("lists: %d drafts, %d signed", len(drafts), len(signed))
		}
	})

	t.Run("signing, renewing and terminating are stored with their events", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		a := sign(t, f, draft(t, f, p.ID, "2026-01-01", "2026-12-31"), "2026-01-05")
		if a.SignedOn.String() != "2026-01-05" {
			t.Errorf("signed on %s", a.SignedOn)
		}
		renewed, err := f.s.ChangeAgreement(f.ctx, "demo", a.ID, func(cur domain.Agreement) (store.AgreementChange, error) {
			next, r, err := cur.Renew(domain.RenewInput{EndDate: "2027-12-31", Value: domain.Money{Currency: "EUR", Minor: 300000}}, "organiser-1", now)
			if err != nil {
				return store.AgreementChange{}, err
			}
			e, err := events.Factory{}.AgreementSigned(next, true)
			return store.AgreementChange{Agreement: next, Renewal: &r, Events: []kafka.Event{e}, Action: domain.ActionAgreementRenewed}, err
		})
		if err != nil || renewed.End.String() != "2027-12-31" {
			t.Fatalf("renewal = %+v, %v", renewed, err)
		}
		renewals, err := f.s.Renewals(f.ctx, "demo", a.ID)
		if err != nil || len(renewals) != 1 || renewals[0].PreviousEnd.String() != "2026-12-31" || renewals[0].NewEnd.String() != "2027-12-31" ||
			renewals[0].PreviousValue.Minor != 250000 || renewals[0].RenewedBy != "organiser-1" {
			t.Errorf("renewals = %+v, %v", renewals, err)
		}
		got, _ := f.s.GetAgreement(f.ctx, "demo", a.ID)
		if got.End.String() != "2027-12-31" || got.Value.Minor != 300000 {
			t.Errorf("stored renewal = %+v", got)
		}
		ended, err := f.s.ChangeAgreement(f.ctx, "demo", a.ID, func(cur domain.Agreement) (store.AgreementChange, error) {
			next, err := cur.Terminate("The sponsor withdrew", "", domain.DateOf(now), now)
			if err != nil {
				return store.AgreementChange{}, err
			}
			e, err := events.Factory{}.AgreementEnded(next, now)
			return store.AgreementChange{Agreement: next, Events: []kafka.Event{e}, Action: domain.ActionAgreementTerminated}, err
		})
		if err != nil || ended.Status != domain.AgreementTerminated {
			t.Fatalf("terminate = %+v, %v", ended, err)
		}
		if got, _ := f.s.GetAgreement(f.ctx, "demo", a.ID); got.Status != domain.AgreementTerminated || got.EndedOn != domain.DateOf(now) ||
			got.TerminationReason != "The sponsor withdrew" {
			t.Errorf("stored termination = %+v", got)
		}
		_, err = f.s.ChangeAgreement(f.ctx, "demo", a.ID, func(cur domain.Agreement) (store.AgreementChange, error) {
			next, err := cur.Activate(now)
			return store.AgreementChange{Agreement: next, Action: domain.ActionAgreementActivated}, err
		})
		if !domain.IsStateError(err) {
			t.Errorf("activating a terminated agreement = %v, want a state error", err)
		}
		want := []string{events.TypePartnerAdded, events.TypeAgreementSigned, events.TypeAgreementSigned, events.TypeAgreementEnded}
		if got := f.published(t); !slices.Equal(got, want) {
			t.Errorf("outbox = %v, want %v", got, want)
		}
	})
}

// clock is a fake clock the sweep tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
func (c *clock) day(raw string) time.Time {
	c.t = domain.MustDate(raw).Time().Add(6 * time.Hour)
	return c.t
}

// sweep runs the sweep of the clock's day over every candidate, as the
// service's Sweeper does.
func sweep(t *testing.T, f fixture, c *clock) store.SweepResult {
	t.Helper()
	today := domain.DateOf(c.now())
	ids, err := f.s.SweepCandidates(f.ctx, "demo", today, 30)
	if err != nil {
		t.Fatal(err)
	}
	var total store.SweepResult
	for _, id := range ids {
		r, err := f.s.SweepAgreement(f.ctx, "demo", id, today, []int{30, 7}, c.now(), events.Factory{})
		if err != nil {
			t.Fatal(err)
		}
		total.Announced += r.Announced
		total.Activated = total.Activated || r.Activated
		total.Expired = total.Expired || r.Expired
	}
	return total
}

// expiring returns the (agreement, threshold, days left) of every
// AgreementExpiring in the outbox.
func (f fixture) expiring(t *testing.T) []string {
	t.Helper()
	rows, err := f.db.Query(f.db.Rebind("SELECT payload FROM outbox WHERE event_type = ? ORDER BY seq"), events.TypeAgreementExpiring)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		m, err := decodeExpiring(payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s/%s/%d/%d", m.GetAgreementId()[len(m.GetAgreementId())-4:], m.GetEndDate(), m.GetThresholdDays(), m.GetDaysLeft()))
	}
	return out
}

func decodeExpiring(payload []byte) (*partnersv1.AgreementExpiring, error) {
	var m partnersv1.AgreementExpiring
	return &m, proto.Unmarshal(payload, &m)
}

func testSweep(t *testing.T, engine string) {
	t.Run("each threshold is announced exactly once, across restarts", func(t *testing.T) {
		f := newStore(t, engine, nil)
		c := &clock{}
		p := f.partner(t, "demo", "Solar Co-op")
		a := sign(t, f, draft(t, f, p.ID, "2026-01-01", "2026-12-31"), "")
		short := a.ID[len(a.ID)-4:]

		c.day("2026-11-30") // 31 days left
		if r := sweep(t, f, c); r.Announced != 0 || !r.Activated {
			t.Errorf("31 days out: %+v, want activation and no announcement", r)
		}
		if got, _ := f.s.GetAgreement(f.ctx, "demo", a.ID); got.Status != domain.AgreementActive {
			t.Errorf("status = %s, want active once its term began", got.Status)
		}
		c.day("2026-12-01") // 30 days left
		for range 3 {
			sweep(t, f, c)
		}
		restarted := openStore(t, f.db, nil)
		sweep(t, restarted, c)
		c.day("2026-12-10")
		sweep(t, restarted, c)
		c.day("2026-12-24") // 7 days left
		sweep(t, restarted, c)
		sweep(t, openStore(t, f.db, nil), c)
		c.day("2026-12-31") // last day
		sweep(t, restarted, c)
		want := []string{short + "/2026-12-31/30/30", short + "/2026-12-31/7/7"}
		if got := f.expiring(t); !slices.Equal(got, want) {
			t.Errorf("AgreementExpiring events = %v, want %v", got, want)
		}
		if n := f.count(t, "agreement_expiry_notices"); n != 2 {
			t.Errorf("notices = %d, want 2", n)
		}

		c.day("2027-01-01") // the term is over
		if r := sweep(t, f, c); !r.Expired {
			t.Errorf("day after the end: %+v, want expiry", r)
		}
		sweep(t, restarted, c)
		got, _ := f.s.GetAgreement(f.ctx, "demo", a.ID)
		if got.Status != domain.AgreementExpired || got.EndedOn.String() != "2026-12-31" {
			t.Errorf("after the end = %s, ended on %s", got.Status, got.EndedOn)
		}
		if ended := slices.Collect(func(yield func(string) bool) {
			for _, typ := range f.published(t) {
				if typ == events.TypeAgreementEnded && !yield(typ) {
					return
				}
			}
		}); len(ended) != 1 {
			t.Errorf("AgreementEnded events = %d, want 1", len(ended))
		}
	})

	t.Run("a late first sweep announces every threshold passed, once", func(t *testing.T) {
		f := newStore(t, engine, nil)
		c := &clock{}
		p := f.partner(t, "demo", "Solar Co-op")
		a := sign(t, f, draft(t, f, p.ID, "2026-01-01", "2026-03-20"), "")
		short := a.ID[len(a.ID)-4:]
		c.day("2026-03-15")
		sweep(t, f, c)
		sweep(t, f, c)
		want := []string{short + "/2026-03-20/30/5", short + "/2026-03-20/7/5"}
		if got := f.expiring(t); !slices.Equal(got, want) {
			t.Errorf("AgreementExpiring events = %v, want %v", got, want)
		}
	})

	t.Run("a renewal starts the announcements again for the new end", func(t *testing.T) {
		f := newStore(t, engine, nil)
		c := &clock{}
		p := f.partner(t, "demo", "Solar Co-op")
		a := sign(t, f, draft(t, f, p.ID, "2026-01-01", "2026-03-20"), "")
		short := a.ID[len(a.ID)-4:]
		c.day("2026-03-15")
		sweep(t, f, c)
		if _, err := f.s.ChangeAgreement(f.ctx, "demo", a.ID, func(cur domain.Agreement) (store.AgreementChange, error) {
			next, r, err := cur.Renew(domain.RenewInput{EndDate: "2026-04-10"}, "organiser-1", c.now())
			return store.AgreementChange{Agreement: next, Renewal: &r, Action: domain.ActionAgreementRenewed}, err
		}); err != nil {
			t.Fatal(err)
		}
		sweep(t, f, c) // 26 days to the new end: the 30-day threshold again
		c.day("2026-04-03")
		sweep(t, f, c)
		sweep(t, f, c)
		want := []string{short + "/2026-03-20/30/5", short + "/2026-03-20/7/5", short + "/2026-04-10/30/26", short + "/2026-04-10/7/7"}
		if got := f.expiring(t); !slices.Equal(got, want) {
			t.Errorf("AgreementExpiring events = %v, want %v", got, want)
		}
	})

	t.Run("drafts, terminated and open-ended agreements are never announced", func(t *testing.T) {
		f := newStore(t, engine, nil)
		c := &clock{}
		p := f.partner(t, "demo", "Solar Co-op")
		draft(t, f, p.ID, "2026-01-01", "2026-03-20")
		open, _ := domain.NewAgreement("demo", p.ID, domain.AgreementInput{Kind: domain.AgreementMoU, Title: "MoU", StartDate: "2026-01-01"}, id(), now)
		if err := f.s.CreateAgreement(f.ctx, open); err != nil {
			t.Fatal(err)
		}
		sign(t, f, open, "")
		c.day("2026-03-15")
		if r := sweep(t, f, c); r.Announced != 0 {
			t.Errorf("sweep = %+v", r)
		}
		if got := f.expiring(t); len(got) != 0 {
			t.Errorf("announced %v", got)
		}
	})
}

func testContributions(t *testing.T, engine string) {
	record := func(t *testing.T, f fixture, in domain.ContributionInput) domain.Contribution {
		t.Helper()
		c, err := domain.NewContribution("demo", in, id(), "organiser-1", now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := events.Factory{}.ContributionRecorded(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.CreateContribution(f.ctx, c, e); err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("sums stay per currency and in minor units", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		q := f.partner(t, "demo", "Wind Co-op")
		money := func(partner, date, currency string, minor int64) domain.ContributionInput {
			return domain.ContributionInput{PartnerID: partner, Kind: domain.ContributionMoney, Date: date, Value: domain.Money{Currency: currency, Minor: minor}, Goal: "solar"}
		}
		record(t, f, money(p.ID, "2026-01-10", "EUR", 10050))
		record(t, f, money(p.ID, "2026-01-10", "EUR", 20025))
		record(t, f, money(p.ID, "2026-02-01", "JPY", 5000))
		record(t, f, money(q.ID, "2026-03-01", "KWD", 1234))
		record(t, f, domain.ContributionInput{PartnerID: q.ID, Kind: domain.ContributionVolunteer, Date: "2026-03-02", VolunteerMinutes: 150, MemberID: "m-1"})
		record(t, f, domain.ContributionInput{PartnerID: q.ID, Kind: domain.ContributionInKind, Date: "2026-03-03", Description: "Laptops",
			Value: domain.Money{Currency: "EUR", Minor: 99999}})

		sums, err := f.s.ContributionSums(f.ctx, "demo", store.ContributionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		names, _ := f.s.PartnerNames(f.ctx, "demo")
		groups, overall, err := domain.GroupContributions(sums, domain.ByPartner, "", names)
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 2 || groups[0].Label != "Solar Co-op" || groups[0].Money["EUR"] != 30075 || groups[0].Money["JPY"] != 5000 || groups[0].Count != 3 {
			t.Errorf("Solar Co-op = %+v", groups[0])
		}
		if overall.Total["EUR"] != 30075+99999 || overall.InKind["EUR"] != 99999 || overall.Total["KWD"] != 1234 || overall.VolunteerMinutes != 150 || overall.Count != 6 {
			t.Errorf("overall = %+v", overall)
		}
		march, _ := f.s.ContributionSums(f.ctx, "demo", store.ContributionFilter{From: domain.MustDate("2026-03-01"), To: domain.MustDate("2026-03-02")})
		if len(march) != 2 {
			t.Errorf("sums from 1 to 2 March = %+v", march)
		}
		if other, _ := f.s.ContributionSums(f.ctx, "other", store.ContributionFilter{}); len(other) != 0 {
			t.Error("sums crossed communities")
		}
		list, err := f.s.ListContributions(f.ctx, "demo", store.ContributionFilter{PartnerID: q.ID}, "", 10)
		if err != nil || len(list) != 3 || list[1].MemberID != "m-1" || list[1].VolunteerMinutes != 150 || list[2].Description != "Laptops" || list[0].Date.String() != "2026-03-01" {
			t.Errorf("list = %+v, %v", list, err)
		}
		if n := len(f.published(t)); n != 2+6 {
			t.Errorf("outbox holds %d events, want 8", n)
		}
	})

	t.Run("a sum too large for int64 fails rather than wrapping", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		for range 2 {
			// Past the domain's bound on purpose: the database is the last line.
			c := domain.Contribution{ID: id(), Community: "demo", PartnerID: p.ID, Kind: domain.ContributionMoney, Date: domain.MustDate("2026-01-01"),
				Value: domain.Money{Currency: "EUR", Minor: 5_000_000_000_000_000_000}, RecordedAt: now, RecordedBy: "o"}
			if err := f.s.CreateContribution(f.ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if sums, err := f.s.ContributionSums(f.ctx, "demo", store.ContributionFilter{}); err == nil {
			t.Errorf("ContributionSums = %+v, want an overflow error", sums)
		}
	})

	t.Run("a contribution for another community's partner is refused", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "other", "Solar Co-op")
		c, _ := domain.NewContribution("demo", domain.ContributionInput{PartnerID: p.ID, Kind: domain.ContributionMoney, Date: "2026-01-01",
			Value: domain.Money{Currency: "EUR", Minor: 1}}, id(), "o", now)
		e, _ := events.Factory{}.ContributionRecorded(c)
		if err := f.s.CreateContribution(f.ctx, c, e); !errors.Is(err, domain.ErrUnknownPartner) {
			t.Errorf("error = %v, want ErrUnknownPartner", err)
		}
		if f.count(t, "contributions") != 0 || len(f.published(t)) != 1 {
			t.Error("the refused contribution left rows behind")
		}
	})
}

func testInteractions(t *testing.T, engine string) {
	t.Run("interactions list newest first with their participants", func(t *testing.T) {
		f := newStore(t, engine, nil)
		p := f.partner(t, "demo", "Solar Co-op")
		other := f.partner(t, "demo", "Wind Co-op")
		c, _ := domain.NewContact("demo", p.ID, domain.ContactInput{Name: "Ada"}, id(), now)
		stranger, _ := domain.NewContact("demo", other.ID, domain.ContactInput{Name: "Bob"}, id(), now)
		for _, x := range []domain.Contact{c, stranger} {
			if err := f.s.CreateContact(f.ctx, x, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			in := domain.InteractionInput{PartnerID: p.ID, Kind: domain.InteractionCall, OccurredAt: now.Add(time.Duration(i) * time.Hour),
				OrganiserIDs: []string{"organiser-1"}, ContactIDs: []string{c.ID}, Notes: fmt.Sprintf("call %d", i)}
			if i == 3 {
				in.OccurredAt = now.Add(2 * time.Hour) // the same time as call 2, across the page boundary
			}
			x, err := domain.NewInteraction("demo", in, id(), "organiser-1", now.Add(5*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			e, _ := events.Factory{}.InteractionLogged(x)
			if err := f.s.CreateInteraction(f.ctx, x, e); err != nil {
				t.Fatal(err)
			}
		}
		var notes []string
		var after store.InteractionCursor
		for pages := 0; ; pages++ {
			page, err := f.s.ListInteractions(f.ctx, "demo", p.ID, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page {
				notes = append(notes, x.Notes)
				if !slices.Equal(x.ContactIDs, []string{c.ID}) || !slices.Equal(x.OrganiserIDs, []string{"organiser-1"}) {
					t.Errorf("participants of %s = %v %v", x.Notes, x.OrganiserIDs, x.ContactIDs)
				}
			}
			if len(page) < 2 || pages > 5 {
				break
			}
			last := page[len(page)-1]
			after = store.InteractionCursor{OccurredAt: last.OccurredAt, ID: last.ID}
		}
		if !slices.Equal(notes, []string{"call 4", "call 3", "call 2", "call 1", "call 0"}) {
			t.Errorf("newest first = %v", notes)
		}

		x, _ := domain.NewInteraction("demo", domain.InteractionInput{PartnerID: p.ID, Kind: domain.InteractionMeeting, OccurredAt: now,
			ContactIDs: []string{stranger.ID}}, id(), "organiser-1", now)
		e, _ := events.Factory{}.InteractionLogged(x)
		if err := f.s.CreateInteraction(f.ctx, x, e); !errors.Is(err, domain.ErrUnknownContact) {
			t.Errorf("another partner's contact = %v, want ErrUnknownContact", err)
		}
		if _, err := f.s.EraseContact(f.ctx, "demo", c.ID, now); err != nil {
			t.Fatal(err)
		}
		x.ContactIDs = []string{c.ID}
		if err := f.s.CreateInteraction(f.ctx, x, e); !errors.Is(err, domain.ErrUnknownContact) {
			t.Errorf("an erased contact = %v, want ErrUnknownContact", err)
		}
		if n := f.count(t, "interactions"); n != 5 {
			t.Errorf("interactions = %d, want 5", n)
		}
		if _, err := f.s.ListInteractions(f.ctx, "other", p.ID, store.InteractionCursor{}, 10); !errors.Is(err, domain.ErrPartnerNotFound) {
			t.Errorf("interactions from another community = %v", err)
		}
	})
}
