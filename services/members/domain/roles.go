package domain

import (
	"errors"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Community roles a member can hold.
const (
	RoleMember     = "member"
	RoleAmbassador = "ambassador"
	RoleOrganiser  = "organiser"
	RoleStaff      = "staff"
)

// Roles lists the community roles.
func Roles() []string { return []string{RoleMember, RoleAmbassador, RoleOrganiser, RoleStaff} }

// RoleAssignment is one role a member holds.
type RoleAssignment struct {
	Role       string
	Tier       string
	AssignedAt time.Time
	AssignedBy string
}

// ErrRoleNotHeld means revoking a role the member does not hold.
var ErrRoleNotHeld = errors.New("the member does not hold that role")

// NewRoleAssignment validates assigning role (and, for ambassadors, tier).
func NewRoleAssignment(role, tier, by string, now time.Time) (RoleAssignment, error) {
	if !slices.Contains(Roles(), role) {
		return RoleAssignment{}, validate.Field("role", "must be member, ambassador, organiser or staff")
	}
	switch {
	case role == RoleAmbassador && tier == "":
		tier = "bronze"
	case role == RoleAmbassador:
		t, ferr := validate.Slug("tier", tier, 40)
		if ferr != nil {
			return RoleAssignment{}, ferr
		}
		tier = t
	case tier != "":
		return RoleAssignment{}, validate.Field("tier", "only ambassadors have a tier")
	}
	return RoleAssignment{Role: role, Tier: tier, AssignedAt: now.UTC().Truncate(time.Microsecond), AssignedBy: by}, nil
}

// IsStaff reports whether roles include staff, who have no engagement level.
func IsStaff(roles []RoleAssignment) bool {
	return slices.ContainsFunc(roles, func(r RoleAssignment) bool { return r.Role == RoleStaff })
}
