package api

import (
	"context"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Contributions implements ContributionsService.
type Contributions struct{ base }

var _ partnersv1connect.ContributionsServiceHandler = (*Contributions)(nil)

// NewContributions returns the contributions API.
func NewContributions(d Deps) *Contributions { return &Contributions{newBase(d)} }

// RecordContribution stores a contribution and publishes
// ContributionRecorded.
func (h *Contributions) RecordContribution(ctx context.Context, req *connect.Request[partnersv1.RecordContributionRequest]) (*connect.Response[partnersv1.RecordContributionResponse], error) {
	m := req.Msg
	var errs validate.Errors
	community, err := communityOf(m.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	c, err := domain.NewContribution(community, domain.ContributionInput{PartnerID: m.GetPartnerId(), Kind: events.ContributionKindFromProto(m.GetKind()),
		Date: m.GetDate(), Description: m.GetDescription(), Value: events.MoneyFromProto(m.GetValue()), VolunteerMinutes: m.GetVolunteerMinutes(),
		EventID: m.GetEventId(), Goal: m.GetGoal(), MemberID: m.GetMemberId()}, newID(), caller(ctx), h.now())
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.checkRefs(ctx, c); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	e, err := h.events.ContributionRecorded(c)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreateContribution(ctx, c, e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "contribution recorded", "community", community, "partner_id", c.PartnerID, "contribution_id", c.ID,
		"kind", string(c.Kind), "member_id", c.MemberID)
	return connect.NewResponse(&partnersv1.RecordContributionResponse{Contribution: events.ContributionToProto(c)}), nil
}

// checkRefs checks the member and the event a contribution names: the
// community's own. Both are reported together.
func (h *Contributions) checkRefs(ctx context.Context, c domain.Contribution) error {
	var errs validate.Errors
	for _, ref := range []struct {
		refs      *service.Refs
		field, id string
	}{{h.memberRefs, "member_id", c.MemberID}, {h.eventRefs, "event_id", c.EventID}} {
		if ref.id == "" {
			continue
		}
		err := ref.refs.Check(ctx, c.Community, ref.field, ref.id)
		if fe := validate.FieldErrors(err); len(fe) > 0 {
			errs = append(errs, fe...)
		} else if err != nil {
			return err
		}
	}
	return errs.Err()
}

// ListContributions returns one page of contributions.
func (h *Contributions) ListContributions(ctx context.Context, req *connect.Request[partnersv1.ListContributionsRequest]) (*connect.Response[partnersv1.ListContributionsResponse], error) {
	m := req.Msg
	var errs validate.Errors
	community, err := communityOf(m.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	size, err := rpc.PageSize(m.GetPageSize())
	errs = append(errs, validate.FieldErrors(err)...)
	f, err := contributionFilter(m.GetPartnerId(), m.GetFromDate(), m.GetToDate(), m.GetGoal())
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community, m.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	list, err := h.store.ListContributions(ctx, community, f, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListContributionsResponse{}
	if len(list) > size {
		list = list[:size]
		res.NextPageToken = rpc.EncodePageToken(community, list[size-1].ID)
	}
	for _, c := range list {
		res.Contributions = append(res.Contributions, events.ContributionToProto(c))
	}
	return connect.NewResponse(res), nil
}

// contributionFilter reads the filters of contribution lists and totals.
func contributionFilter(partnerID, from, to, goal string) (store.ContributionFilter, error) {
	var errs validate.Errors
	var f store.ContributionFilter
	var err error
	f.PartnerID, err = optionalID("partner_id", partnerID)
	errs = append(errs, validate.FieldErrors(err)...)
	f.From, f.To, err = dateRange(from, to)
	errs = append(errs, validate.FieldErrors(err)...)
	if goal != "" {
		g, ferr := validate.Slug("goal", goal, validate.MaxCommunityLength)
		if ferr != nil {
			errs = append(errs, ferr)
		}
		f.Goal = g
	}
	return f, errs.Err()
}
