package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
)

// The attention list raises one item per cause, resolves it when the
// cause goes away, and keeps each community's items to itself — on both
// engines.
func TestAttentionStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			f := newStore(t, engine, nil)
			today := domain.DateOf(now)
			p := f.partner(t, "demo", "Solar Co-op", func(in *domain.PartnerInput) { in.NextReviewDate = today.AddDays(-1).String() })
			theirs := f.partner(t, "other", "Library", func(in *domain.PartnerInput) { in.NextReviewDate = today.String() })
			a := sign(t, f, draft(t, f, p.ID, "2026-01-01", today.AddDays(20).String()), "")

			for range 2 {
				raised, err := f.s.RaiseAttention(f.ctx, "demo", today, 30, now)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(raised); n != 0 && n != 2 {
					t.Errorf("raised %d items", n)
				}
			}
			open, err := f.s.OpenAttention(f.ctx, "demo")
			if err != nil || len(open) != 2 {
				t.Fatalf("open items of demo = %+v, %v; want the agreement and the review, once each", open, err)
			}
			var agreementItem domain.AttentionItem
			for _, it := range open {
				if it.Kind == domain.AttentionAgreementExpiring {
					agreementItem = it
				}
				if it.OwnerID != "organiser-1" || it.Community != "demo" {
					t.Errorf("item %+v", it)
				}
			}
			if agreementItem.AgreementID != a.ID || agreementItem.DueDate.String() != today.AddDays(20).String() {
				t.Errorf("agreement item = %+v", agreementItem)
			}
			if _, err := f.s.RaiseAttention(f.ctx, "other", today, 30, now); err != nil {
				t.Fatal(err)
			}
			if list, _ := f.s.ListAttention(f.ctx, "other", "", true, "", 10); len(list) != 1 || list[0].PartnerID != theirs.ID {
				t.Errorf("other's list = %+v", list)
			}
			if _, err := f.s.AcknowledgeAttention(f.ctx, "other", agreementItem.ID, "mallory", now); !errors.Is(err, domain.ErrAttentionNotFound) {
				t.Errorf("acknowledging demo's item as other = %v", err)
			}
			if err := f.s.MarkAttention(f.ctx, "other", agreementItem.ID, true, true, now); err != nil {
				t.Fatal(err)
			}
			for _, it := range mustOpen(t, f, "demo") {
				if !it.NotifiedAt.IsZero() || !it.EscalatedAt.IsZero() {
					t.Errorf("marking as other reached demo's item %+v", it)
				}
			}
			ack, err := f.s.AcknowledgeAttention(f.ctx, "demo", agreementItem.ID, "organiser-1", now)
			if err != nil || ack.AcknowledgedBy != "organiser-1" || ack.AcknowledgedAt.IsZero() {
				t.Errorf("acknowledge = %+v, %v", ack, err)
			}

			// The review date moves on: the review resolves; the agreement does not.
			if _, err := f.s.UpdatePartner(f.ctx, "demo", p.ID, func(p domain.Partner) (domain.Partner, []kafka.Event, error) {
				p.Stakeholder.NextReview = today.AddDays(90)
				e, err := events.Factory{}.PartnerUpdated(p, []string{"stakeholder.next_review_date"})
				return p, []kafka.Event{e}, err
			}); err != nil {
				t.Fatal(err)
			}
			if n, err := f.s.ResolveAttention(f.ctx, "demo", now.Add(time.Hour)); err != nil || n != 1 {
				t.Errorf("resolved %d, %v; want the review", n, err)
			}
			open, _ = f.s.OpenAttention(f.ctx, "demo")
			if len(open) != 1 || open[0].ID != agreementItem.ID {
				t.Errorf("open after the review = %+v", open)
			}
			if list, _ := f.s.ListAttention(f.ctx, "demo", "organiser-1", true, "", 10); len(list) != 2 {
				t.Errorf("demo's list with the resolved = %+v", list)
			}
		})
	}
}

func mustOpen(t *testing.T, f fixture, community string) []domain.AttentionItem {
	t.Helper()
	open, err := f.s.OpenAttention(f.ctx, community)
	if err != nil {
		t.Fatal(err)
	}
	return open
}
