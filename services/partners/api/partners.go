package api

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Partners implements PartnersService.
type Partners struct{ base }

var _ partnersv1connect.PartnersServiceHandler = (*Partners)(nil)

// NewPartners returns the partners API.
func NewPartners(d Deps) *Partners { return &Partners{newBase(d)} }

// partnerInput reads a submitted partner; nil reads as empty.
func partnerInput(name string, kind partnersv1.PartnerKind, sector, website, country string, s *partnersv1.Stakeholder) domain.PartnerInput {
	return domain.PartnerInput{Name: name, Kind: events.PartnerKindFromProto(kind), Sector: sector, Website: website, CountryCode: country,
		Influence: int(s.GetInfluence()), Interest: int(s.GetInterest()), OwnerID: s.GetOwnerId(), NextReviewDate: s.GetNextReviewDate()}
}

// AddPartner stores a new prospect and publishes PartnerAdded.
func (h *Partners) AddPartner(ctx context.Context, req *connect.Request[partnersv1.AddPartnerRequest]) (*connect.Response[partnersv1.AddPartnerResponse], error) {
	m := req.Msg
	p, err := domain.NewPartner(m.GetCommunity(), partnerInput(m.GetName(), m.GetKind(), m.GetSector(), m.GetWebsite(), m.GetCountryCode(), m.GetStakeholder()),
		newID(), h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if owner := p.Stakeholder.OwnerID; owner != "" {
		if err := h.memberRefs.Check(ctx, p.Community, "stakeholder.owner_id", owner); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
	}
	e, err := h.events.PartnerAdded(p)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreatePartner(ctx, p, caller(ctx), e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "partner added", "community", p.Community, "partner_id", p.ID)
	return connect.NewResponse(&partnersv1.AddPartnerResponse{Partner: events.PartnerToProto(p)}), nil
}

// GetPartner returns one partner and its status history.
func (h *Partners) GetPartner(ctx context.Context, req *connect.Request[partnersv1.GetPartnerRequest]) (*connect.Response[partnersv1.GetPartnerResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	p, err := h.store.GetPartner(ctx, community, id)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	history, err := h.store.StatusHistory(ctx, community, id)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.GetPartnerResponse{Partner: events.PartnerToProto(p)}
	for _, sc := range history {
		res.History = append(res.History, statusChangeToProto(sc))
	}
	return connect.NewResponse(res), nil
}

// ListPartners returns one page of a community's partners.
func (h *Partners) ListPartners(ctx context.Context, req *connect.Request[partnersv1.ListPartnersRequest]) (*connect.Response[partnersv1.ListPartnersResponse], error) {
	var errs validate.Errors
	community, err := communityOf(req.Msg.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	errs = append(errs, validate.FieldErrors(err)...)
	f, err := partnerFilter(req.Msg.GetStatuses(), req.Msg.GetKinds())
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	// One extra row tells whether another page follows.
	partners, err := h.store.ListPartners(ctx, community, f, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListPartnersResponse{}
	if len(partners) > size {
		partners = partners[:size]
		res.NextPageToken = rpc.EncodePageToken(community, partners[size-1].ID)
	}
	for _, p := range partners {
		res.Partners = append(res.Partners, events.PartnerToProto(p))
	}
	return connect.NewResponse(res), nil
}

// partnerFilter reads status and kind filters.
func partnerFilter(statuses []partnersv1.PartnerStatus, kinds []partnersv1.PartnerKind) (store.PartnerFilter, error) {
	var f store.PartnerFilter
	var errs validate.Errors
	for _, s := range statuses {
		st, ok := events.StatusFromProto(s)
		if !ok {
			errs = append(errs, validate.Field("statuses", "must hold only prospect, in_conversation, active or lapsed"))
			break
		}
		f.Statuses = append(f.Statuses, st)
	}
	for _, k := range kinds {
		kind := events.PartnerKindFromProto(k)
		if kind == "" {
			errs = append(errs, validate.Field("kinds", "must hold only known partner kinds"))
			break
		}
		f.Kinds = append(f.Kinds, kind)
	}
	return f, errs.Err()
}

// UpdatePartner changes the masked fields and publishes PartnerUpdated
// when anything changed.
func (h *Partners) UpdatePartner(ctx context.Context, req *connect.Request[partnersv1.UpdatePartnerRequest]) (*connect.Response[partnersv1.UpdatePartnerResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	u := req.Msg.GetPartner()
	update := partnerInput(u.GetName(), u.GetKind(), u.GetSector(), u.GetWebsite(), u.GetCountryCode(), u.GetStakeholder())
	if err := h.checkOwner(ctx, community, id, update.OwnerID, req.Msg.GetUpdateMask().GetPaths()); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var changed []string
	p, err := h.store.UpdatePartner(ctx, community, id, func(current domain.Partner) (domain.Partner, []kafka.Event, error) {
		merged, err := domain.MergePartner(current.Input(), update, req.Msg.GetUpdateMask().GetPaths())
		if err != nil {
			return current, nil, err
		}
		next, err := current.Update(merged)
		if err != nil {
			return current, nil, err
		}
		if changed = domain.ChangedPartner(current, next); len(changed) == 0 {
			return current, nil, nil
		}
		next.UpdatedAt = h.now().UTC().Truncate(time.Microsecond)
		e, err := h.events.PartnerUpdated(next, changed)
		return next, []kafka.Event{e}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if len(changed) > 0 {
		h.logger.InfoContext(ctx, "partner updated", "community", community, "partner_id", id, "fields", changed)
	}
	return connect.NewResponse(&partnersv1.UpdatePartnerResponse{Partner: events.PartnerToProto(p)}), nil
}

// checkOwner checks a new relationship owner an update names: a member of
// community. The owner already recorded was checked when it was set; a
// malformed id is left to the domain's validation.
func (h *Partners) checkOwner(ctx context.Context, community, partnerID, owner string, paths []string) error {
	if owner == "" || !slices.ContainsFunc(paths, func(p string) bool { return p == "stakeholder" || p == "stakeholder.owner_id" }) {
		return nil
	}
	if _, ferr := domain.ValidateID("stakeholder.owner_id", owner, false); ferr != nil {
		return nil
	}
	current, err := h.store.GetPartner(ctx, community, partnerID)
	if err != nil || current.Stakeholder.OwnerID == owner {
		return err
	}
	return h.memberRefs.Check(ctx, community, "stakeholder.owner_id", owner)
}

// ChangePartnerStatus moves a partner one step along the pipeline.
func (h *Partners) ChangePartnerStatus(ctx context.Context, req *connect.Request[partnersv1.ChangePartnerStatusRequest]) (*connect.Response[partnersv1.ChangePartnerStatusResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	to, ok := events.StatusFromProto(req.Msg.GetStatus())
	if !ok {
		err = validate.Errors(append(validate.FieldErrors(err), validate.Field("status", "must be prospect, in_conversation, active or lapsed")))
	}
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var sc domain.StatusChange
	p, err := h.store.ChangeStatus(ctx, community, id, func(p domain.Partner) (domain.StatusChange, []kafka.Event, error) {
		var err error
		if sc, err = domain.NewStatusChange(p, to, req.Msg.GetNote(), caller(ctx), h.now()); err != nil {
			return sc, nil, err
		}
		e, err := h.events.PartnerStatusChanged(community, sc)
		return sc, []kafka.Event{e}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "partner status changed", "community", community, "partner_id", id, "from", sc.From.String(), "to", sc.To.String())
	return connect.NewResponse(&partnersv1.ChangePartnerStatusResponse{Partner: events.PartnerToProto(p)}), nil
}

// maxDueForReview bounds ListDueForReview's answer.
const maxDueForReview = 1000

// ListDueForReview returns the partners due for review on or before a day.
func (h *Partners) ListDueForReview(ctx context.Context, req *connect.Request[partnersv1.ListDueForReviewRequest]) (*connect.Response[partnersv1.ListDueForReviewResponse], error) {
	community, day, err := h.dueArgs(req.Msg.GetCommunity(), req.Msg.GetOnOrBefore())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	partners, err := h.store.DueForReview(ctx, community, day, maxDueForReview+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListDueForReviewResponse{}
	if len(partners) > maxDueForReview {
		partners, res.Truncated = partners[:maxDueForReview], true
	}
	for _, p := range partners {
		res.Partners = append(res.Partners, events.PartnerToProto(p))
	}
	return connect.NewResponse(res), nil
}

// dueArgs reads the community and the day of a due-for-review question.
func (b base) dueArgs(rawCommunity, onOrBefore string) (string, domain.Date, error) {
	var errs validate.Errors
	community, err := communityOf(rawCommunity)
	errs = append(errs, validate.FieldErrors(err)...)
	day, err := optionalDate("on_or_before", onOrBefore)
	errs = append(errs, validate.FieldErrors(err)...)
	if day.IsZero() {
		day = b.today()
	}
	return community, day, errs.Err()
}

// LogInteraction records a meeting, call or e-mail.
func (h *Partners) LogInteraction(ctx context.Context, req *connect.Request[partnersv1.LogInteractionRequest]) (*connect.Response[partnersv1.LogInteractionResponse], error) {
	m := req.Msg
	var errs validate.Errors
	community, err := communityOf(m.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	in := domain.InteractionInput{PartnerID: m.GetPartnerId(), Kind: events.InteractionKindFromProto(m.GetKind()),
		OrganiserIDs: m.GetOrganiserIds(), ContactIDs: m.GetContactIds(), Notes: m.GetNotes()}
	if m.GetOccurredAt() != nil {
		if err := m.GetOccurredAt().CheckValid(); err != nil {
			errs = append(errs, validate.Field("occurred_at", "is not a valid time"))
		} else {
			in.OccurredAt = m.GetOccurredAt().AsTime()
		}
	}
	i, err := domain.NewInteraction(community, in, newID(), caller(ctx), h.now())
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.memberRefs.Check(ctx, community, "organiser_ids", i.OrganiserIDs...); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	e, err := h.events.InteractionLogged(i)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreateInteraction(ctx, i, e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "interaction logged", "community", community, "partner_id", i.PartnerID, "interaction_id", i.ID, "kind", string(i.Kind))
	return connect.NewResponse(&partnersv1.LogInteractionResponse{Interaction: events.InteractionToProto(i)}), nil
}

// ListInteractions returns one page of a partner's interactions, newest
// first.
func (h *Partners) ListInteractions(ctx context.Context, req *connect.Request[partnersv1.ListInteractionsRequest]) (*connect.Response[partnersv1.ListInteractionsResponse], error) {
	community, partnerID, err := target(req.Msg.GetCommunity(), "partner_id", req.Msg.GetPartnerId())
	size, serr := rpc.PageSize(req.Msg.GetPageSize())
	if errs := append(validate.FieldErrors(err), validate.FieldErrors(serr)...); len(errs) > 0 {
		return nil, h.toConnect(ctx, req.Spec(), validate.Errors(errs))
	}
	after, err := decodeInteractionCursor(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	list, err := h.store.ListInteractions(ctx, community, partnerID, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListInteractionsResponse{}
	if len(list) > size {
		list = list[:size]
		last := list[size-1]
		res.NextPageToken = rpc.EncodePageToken(community, strconv.FormatInt(last.OccurredAt.UnixMicro(), 10)+"_"+last.ID)
	}
	for _, i := range list {
		res.Interactions = append(res.Interactions, events.InteractionToProto(i))
	}
	return connect.NewResponse(res), nil
}

func decodeInteractionCursor(community, token string) (store.InteractionCursor, error) {
	last, err := rpc.DecodePageToken(community, token)
	if err != nil || last == "" {
		return store.InteractionCursor{}, err
	}
	micros, id, ok := strings.Cut(last, "_")
	n, perr := strconv.ParseInt(micros, 10, 64)
	if !ok || perr != nil || id == "" {
		return store.InteractionCursor{}, validate.Field("page_token", "is not a token this API issued")
	}
	return store.InteractionCursor{OccurredAt: time.UnixMicro(n).UTC(), ID: id}, nil
}
