package api

import (
	"context"
	"encoding/json"
	"time"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/auth"
)

// memberExport is the JSON document ExportMemberData returns.
type memberExport struct {
	MemberID      string               `json:"member_id"`
	Community     string               `json:"community"`
	ExportedAt    time.Time            `json:"exported_at"`
	OwnedPartners []exportPartner      `json:"owned_partners"`
	Interactions  []exportInteraction  `json:"interactions"`
	Contributions []exportContribution `json:"contributions"`
	Attention     []exportAttention    `json:"attention"`
}

type exportPartner struct {
	PartnerID      string `json:"partner_id"`
	Name           string `json:"name"`
	Status         string `json:"status"`
	NextReviewDate string `json:"next_review_date,omitempty"`
}

type exportInteraction struct {
	InteractionID string    `json:"interaction_id"`
	PartnerID     string    `json:"partner_id"`
	Kind          string    `json:"kind"`
	OccurredAt    time.Time `json:"occurred_at"`
}

type exportContribution struct {
	ContributionID   string `json:"contribution_id"`
	PartnerID        string `json:"partner_id"`
	Kind             string `json:"kind"`
	Date             string `json:"date"`
	Description      string `json:"description,omitempty"`
	Currency         string `json:"currency,omitempty"`
	AmountMinor      int64  `json:"amount_minor,omitempty"`
	VolunteerMinutes int64  `json:"volunteer_minutes,omitempty"`
	EventID          string `json:"event_id,omitempty"`
	Goal             string `json:"goal,omitempty"`
}

type exportAttention struct {
	ItemID      string     `json:"item_id"`
	Kind        string     `json:"kind"`
	PartnerID   string     `json:"partner_id"`
	AgreementID string     `json:"agreement_id,omitempty"`
	DueDate     string     `json:"due_date"`
	RaisedAt    time.Time  `json:"raised_at"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
}

// ExportMemberData returns what the partners service holds about a member
// as JSON; the reading is audited. Organisers may export anyone, others
// only themselves.
func (h *Partners) ExportMemberData(ctx context.Context, req *connect.Request[partnersv1.ExportMemberDataRequest]) (*connect.Response[partnersv1.ExportMemberDataResponse], error) {
	raw := req.Msg.GetMemberId()
	if raw == "" {
		if p, ok := auth.FromContext(ctx); ok {
			raw = p.MemberID
		}
	}
	community, memberID, err := target(req.Msg.GetCommunity(), "member_id", raw)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := auth.RequireTarget(ctx, memberID); err != nil {
		return nil, err
	}
	data, err := h.store.ExportMember(ctx, community, memberID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	doc := memberExport{MemberID: memberID, Community: community, ExportedAt: h.now().UTC(), OwnedPartners: []exportPartner{},
		Interactions: []exportInteraction{}, Contributions: []exportContribution{}, Attention: []exportAttention{}}
	for _, p := range data.OwnedPartners {
		doc.OwnedPartners = append(doc.OwnedPartners, exportPartner{PartnerID: p.ID, Name: p.Name, Status: p.Status, NextReviewDate: p.NextReviewDate})
	}
	for _, i := range data.Interactions {
		doc.Interactions = append(doc.Interactions, exportInteraction{InteractionID: i.ID, PartnerID: i.PartnerID, Kind: i.Kind, OccurredAt: i.OccurredAt})
	}
	for _, c := range data.Contributions {
		doc.Contributions = append(doc.Contributions, exportContribution{ContributionID: c.ID, PartnerID: c.PartnerID, Kind: string(c.Kind),
			Date: c.Date.String(), Description: c.Description, Currency: c.Value.Currency, AmountMinor: c.Value.Minor,
			VolunteerMinutes: c.VolunteerMinutes, EventID: c.EventID, Goal: c.Goal})
	}
	for _, a := range data.Attention {
		x := exportAttention{ItemID: a.ID, Kind: string(a.Kind), PartnerID: a.PartnerID, AgreementID: a.AgreementID, DueDate: a.DueDate.String(), RaisedAt: a.RaisedAt}
		if !a.ResolvedAt.IsZero() {
			at := a.ResolvedAt
			x.ResolvedAt = &at
		}
		doc.Attention = append(doc.Attention, x)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member data exported", "community", community, "member_id", memberID)
	return connect.NewResponse(&partnersv1.ExportMemberDataResponse{Json: out}), nil
}
