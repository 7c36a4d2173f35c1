package api

import (
	"context"
	"slices"
	"strings"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// checkPeople checks the member and partner ids that spec adds to
// current, for the fields paths name (every field when paths is empty):
// organisers and hosts must be members of community, the partner one of
// its partners. Ids already on the event were checked when they were
// added; malformed ids are left to the domain's validation.
func (h *Handler) checkPeople(ctx context.Context, community string, spec, current domain.Spec, paths []string) error {
	named := func(p string) bool { return len(paths) == 0 || slices.Contains(paths, p) }
	added := func(ids, had []string) []string {
		var out []string
		for _, id := range ids {
			id = strings.TrimSpace(id)
			if _, ferr := domain.ValidateID("", id); ferr == nil && !slices.Contains(had, id) {
				out = append(out, id)
			}
		}
		return out
	}
	var errs validate.Errors
	check := func(err error) error {
		if fe := validate.FieldErrors(err); len(fe) > 0 {
			errs = append(errs, fe...)
			return nil
		}
		return err
	}
	if named("organiser_ids") {
		if err := check(h.members.Check(ctx, community, "organiser_ids", added(spec.OrganiserIDs, current.OrganiserIDs)...)); err != nil {
			return err
		}
	}
	if named("host_ids") {
		if err := check(h.members.Check(ctx, community, "host_ids", added(spec.HostIDs, current.HostIDs)...)); err != nil {
			return err
		}
	}
	if named("partner_id") && spec.PartnerID != "" {
		if err := check(h.partners.Check(ctx, community, "partner_id", added([]string{spec.PartnerID}, []string{current.PartnerID})...)); err != nil {
			return err
		}
	}
	return errs.Err()
}

// checkMember checks that a team member answering for someone else names
// a member of community; a member answering for themselves is their own
// token's member record.
func (h *Handler) checkMember(ctx context.Context, community, memberID string) error {
	if memberID == callerMember(ctx) {
		return nil
	}
	return h.members.Check(ctx, community, "member_id", memberID)
}
