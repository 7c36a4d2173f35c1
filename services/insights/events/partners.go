package events

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// communicationTypes are the communications.v1 events counted.
var communicationTypes = types(&communicationsv1.MessageSent{}, &communicationsv1.MessageBounced{}, &communicationsv1.MessageFailed{},
	&communicationsv1.Unsubscribed{})

// partnerTypes are the partners.v1 events counted.
var partnerTypes = types(&partnersv1.PartnerAdded{}, &partnersv1.PartnerStatusChanged{}, &partnersv1.AgreementSigned{},
	&partnersv1.AgreementEnded{}, &partnersv1.ContributionRecorded{})

// communications turns a communications.v1 event into its change.
func (p *Projection) communications(e kafka.Event, community string) (change, error) {
	msg, err := payload(e, communicationTypes)
	if err != nil {
		return nil, err
	}
	if err := decode(e, community, msg); err != nil {
		return nil, err
	}
	t := at(e)
	message := func(id string, fn func(*domain.Message)) (change, error) {
		if id == "" {
			return nil, fmt.Errorf("event %s names no message", e.ID)
		}
		return func(ctx context.Context, tx *sql.Tx) error { return p.store.UpdateMessage(ctx, tx, community, id, fn) }, nil
	}
	switch m := msg.(type) {
	case *communicationsv1.MessageSent:
		sent := timeOr(m.GetSentAt(), t)
		apply, err := message(m.GetMessageId(), func(mm *domain.Message) {
			mm.MemberID, mm.Channel, mm.IdempotencyKey = m.GetMemberId(), m.GetChannel(), m.GetIdempotencyKey()
			mm.SentAt = domain.Earliest(mm.SentAt, sent)
		})
		if err != nil || !domain.WelcomeFor(m.GetIdempotencyKey(), community, m.GetMemberId()) {
			return apply, err
		}
		return func(ctx context.Context, tx *sql.Tx) error {
			if err := apply(ctx, tx); err != nil {
				return err
			}
			return p.store.UpdateMember(ctx, tx, community, m.GetMemberId(), func(mm *domain.Member) (bool, error) {
				first := domain.Earliest(mm.WelcomedAt, sent)
				changed := !first.Equal(mm.WelcomedAt)
				mm.WelcomedAt = first
				return changed, nil
			})
		}, nil
	case *communicationsv1.MessageBounced:
		return message(m.GetMessageId(), func(mm *domain.Message) { mm.BouncedAt = domain.Earliest(mm.BouncedAt, t) })
	case *communicationsv1.MessageFailed:
		return message(m.GetMessageId(), func(mm *domain.Message) { mm.FailedAt = domain.Earliest(mm.FailedAt, t) })
	case *communicationsv1.Unsubscribed:
		if m.GetMemberId() == "" {
			return nil, fmt.Errorf("event %s names no member", e.ID)
		}
		u := domain.Unsubscribe{MemberID: m.GetMemberId(), Purpose: m.GetPurpose(), At: timeOr(m.GetOccurredAt(), t)}
		return func(ctx context.Context, tx *sql.Tx) error { return p.store.AddUnsubscribe(ctx, tx, community, u) }, nil
	}
	return nil, errSkip
}

// Stage is a pipeline status as a stage name.
func Stage(s partnersv1.PartnerStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "PARTNER_STATUS_"))
}

// ContributionKind is a contribution kind's name.
func ContributionKind(k partnersv1.ContributionKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "CONTRIBUTION_KIND_"))
}

// partners turns a partners.v1 event into its change.
func (p *Projection) partners(e kafka.Event, community string) (change, error) {
	msg, err := payload(e, partnerTypes)
	if err != nil {
		return nil, err
	}
	if err := decode(e, community, msg); err != nil {
		return nil, err
	}
	t := at(e)
	switch m := msg.(type) {
	case *partnersv1.PartnerAdded:
		added := timeOr(m.GetPartner().GetAddedAt(), t)
		return p.partner(community, m.GetPartnerId(), func(pp *domain.Partner) bool {
			if !pp.AddedAt.IsZero() && !added.Before(pp.AddedAt) {
				return false
			}
			pp.AddedAt = added
			return true
		})
	case *partnersv1.PartnerStatusChanged:
		stage := Stage(m.GetToStatus())
		if m.GetToStatus() == partnersv1.PartnerStatus_PARTNER_STATUS_UNSPECIFIED {
			return nil, fmt.Errorf("event %s moves to no stage", e.ID)
		}
		changed := timeOr(m.GetChangedAt(), t)
		return p.partner(community, m.GetPartnerId(), func(pp *domain.Partner) bool { return pp.AddMove(domain.Move{At: changed, Stage: stage}) })
	case *partnersv1.AgreementSigned:
		start, sok, err1 := isoDay(m.GetStartDate())
		end, eok, err2 := isoDay(m.GetEndDate())
		signed, gok, err3 := isoDay(m.GetSignedOn())
		if err1 != nil || err2 != nil || err3 != nil || !sok || !gok {
			return nil, fmt.Errorf("event %s carries bad dates", e.ID)
		}
		return p.agreement(community, m.GetAgreementId(), func(a *domain.Agreement) {
			a.PartnerID = m.GetPartnerId()
			if !a.Signed || signed < a.SignedOn {
				a.SignedOn, a.Signed = signed, true
			}
			if a.Version.IsZero() || !t.Before(a.Version) {
				a.Start, a.End, a.HasEnd, a.Version = start, end, eok, t
			}
		})
	case *partnersv1.AgreementEnded:
		ended, ok, err := isoDay(m.GetEndedOn())
		if err != nil || !ok {
			return nil, fmt.Errorf("event %s carries no end date", e.ID)
		}
		return p.agreement(community, m.GetAgreementId(), func(a *domain.Agreement) {
			a.PartnerID = m.GetPartnerId()
			a.EndedOn, a.Ended = ended, true
		})
	case *partnersv1.ContributionRecorded:
		if m.GetContributionId() == "" {
			return nil, fmt.Errorf("event %s names no contribution", e.ID)
		}
		c := domain.Contribution{ID: m.GetContributionId(), PartnerID: m.GetPartnerId(), Kind: ContributionKind(m.GetKind()),
			Day: dayOf(timeOr(m.GetOccurredAt(), t)), Currency: m.GetValue().GetCurrencyCode(), AmountMinor: m.GetValue().GetAmountMinor(),
			VolunteerMinutes: m.GetVolunteerMinutes()}
		return func(ctx context.Context, tx *sql.Tx) error { return p.store.AddContribution(ctx, tx, community, c) }, nil
	}
	return nil, errSkip
}

func (p *Projection) partner(community, id string, fn func(*domain.Partner) bool) (change, error) {
	if id == "" {
		return nil, fmt.Errorf("partner event names no partner")
	}
	return func(ctx context.Context, tx *sql.Tx) error { return p.store.UpdatePartner(ctx, tx, community, id, fn) }, nil
}

func (p *Projection) agreement(community, id string, fn func(*domain.Agreement)) (change, error) {
	if id == "" {
		return nil, fmt.Errorf("agreement event names no agreement")
	}
	return func(ctx context.Context, tx *sql.Tx) error {
		return p.store.UpdateAgreement(ctx, tx, community, id, fn)
	}, nil
}

// isoDay reads a date of the partners service; empty is not ok.
func isoDay(raw string) (domain.Day, bool, error) {
	d, ok, ferr := domain.ParseDay("date", raw)
	if ferr != nil {
		return 0, false, ferr
	}
	return d, ok, nil
}

// dayOf is the UTC day of a contribution's time: contributions are dated
// in days already.
func dayOf(t time.Time) domain.Day { return domain.DayOf(t, time.UTC) }
