package api

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Referrals implements ReferralsService.
type Referrals struct {
	*Handler
}

var _ membersv1connect.ReferralsServiceHandler = Referrals{}

// NewReferrals returns the referrals API.
func NewReferrals(s *store.Store, log *audit.Log, logger *slog.Logger) Referrals {
	return Referrals{&Handler{store: s, audit: log, logger: logger, now: time.Now}}
}

// GetReferralCode returns a member's code, issuing it on first use.
func (h Referrals) GetReferralCode(ctx context.Context, req *connect.Request[membersv1.GetReferralCodeRequest]) (*connect.Response[membersv1.GetReferralCodeResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), memberOrCaller(ctx, req.Msg.GetMemberId()), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	code, err := h.store.ReferralCode(ctx, m.Community, m.ID, h.audit)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.GetReferralCodeResponse{Code: code, JoinPath: "/join/" + m.Community + "?ref=" + code}), nil
}

// ListReferrals pages through the members a member referred, newest
// first: with their names for the team, their join times alone for the
// member themselves.
func (h Referrals) ListReferrals(ctx context.Context, req *connect.Request[membersv1.ListReferralsRequest]) (*connect.Response[membersv1.ListReferralsResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), memberOrCaller(ctx, req.Msg.GetMemberId()), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	scope := m.Community + ":referrals:" + m.ID
	cursor, err := rpc.DecodePageToken(scope, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var before time.Time
	var beforeID string
	if cursor != "" {
		nanos, id, ok := strings.Cut(cursor, "/")
		n, perr := strconv.ParseInt(nanos, 10, 64)
		if !ok || perr != nil {
			return nil, h.toConnect(ctx, req.Spec(), validate.Field("page_token", "is not a page token of this list"))
		}
		before, beforeID = time.Unix(0, n).UTC(), id
	}
	list, total, counted, err := h.store.Referrals(ctx, m.Community, m.ID, before, beforeID, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListReferralsResponse{Total: total, Counted: counted}
	if len(list) > size {
		list = list[:size]
		last := list[size-1]
		res.NextPageToken = rpc.EncodePageToken(scope, strconv.FormatInt(last.JoinedAt.UnixNano(), 10)+"/"+last.MemberID)
	}
	team := auth.ScopeOf(ctx) == auth.ScopeCommunity
	for _, r := range list {
		out := &membersv1.Referral{JoinedAt: timestamppb.New(r.JoinedAt), Counted: r.Counted}
		if team {
			out.MemberId, out.DisplayName = r.MemberID, r.DisplayName
		}
		res.Referrals = append(res.Referrals, out)
	}
	return connect.NewResponse(res), nil
}

// memberOrCaller is raw, or the caller's own member id when raw is empty.
func memberOrCaller(ctx context.Context, raw string) string {
	if raw != "" {
		return raw
	}
	p, _ := auth.FromContext(ctx)
	return p.MemberID
}
