package audit_test

import (
	"slices"
	"testing"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
)

func TestCatalogueFindsMutatingProceduresWithoutEntries(t *testing.T) {
	svc := membersv1.File_kinship_members_v1_members_proto.Services().ByName("MembersService")
	mutating := audit.Mutating(svc)
	if !slices.Contains(mutating, membersv1connect.MembersServiceJoinCommunityProcedure) {
		t.Errorf("JoinCommunity changes data but is not listed: %v", mutating)
	}
	if slices.Contains(mutating, membersv1connect.MembersServiceGetMemberProcedure) {
		t.Error("GetMember is marked NO_SIDE_EFFECTS but is listed as mutating")
	}
	reads := auditv1.File_kinship_audit_v1_audit_proto.Services().ByName("AuditService")
	if m := audit.Mutating(reads); len(m) != 0 {
		t.Errorf("AuditService only reads, got %v", m)
	}

	c := audit.Catalogue{}
	for _, p := range mutating {
		c[p] = []string{"something.done"}
	}
	delete(c, membersv1connect.MembersServiceChangeStatusProcedure)
	c[membersv1connect.MembersServiceGetMemberProcedure] = []string{"member.read"}
	missing, stale := c.Missing(svc)
	if !slices.Equal(missing, []string{membersv1connect.MembersServiceChangeStatusProcedure}) {
		t.Errorf("missing = %v", missing)
	}
	if !slices.Equal(stale, []string{membersv1connect.MembersServiceGetMemberProcedure}) {
		t.Errorf("stale = %v", stale)
	}
}
