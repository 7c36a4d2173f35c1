package domain

import (
	"errors"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/validate"
)

// APIKey is a key for automation, scoped to one community and some roles.
// Only a hash of its secret is kept.
type APIKey struct {
	ID         string
	Community  string
	Name       string
	Prefix     string
	Hash       string
	Roles      []auth.Role
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Revoked reports whether k no longer works.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// KeyRoles are the roles an API key may carry: never platform-wide ones.
func KeyRoles() []auth.Role {
	return []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member}
}

// ErrKeyNotFound means no key has that id in the community.
var ErrKeyNotFound = errors.New("api key not found")

// NewAPIKey validates a key request for community.
func NewAPIKey(community, name string, roles []string, id string, secret auth.APIKey, createdBy string, now time.Time) (APIKey, error) {
	var errs validate.Errors
	n, ferr := validate.Text("name", name, 1, 100)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	var rs []auth.Role
	if len(roles) == 0 {
		errs = append(errs, validate.Field("roles", "must name at least one role"))
	}
	for _, r := range roles {
		role := auth.Role(r)
		if !slices.Contains(KeyRoles(), role) {
			errs = append(errs, validate.Field("roles", "must each be one of organiser, staff, ambassador, member"))
			break
		}
		if !slices.Contains(rs, role) {
			rs = append(rs, role)
		}
	}
	if err := errs.Err(); err != nil {
		return APIKey{}, err
	}
	return APIKey{
		ID: id, Community: community, Name: n, Prefix: secret.Prefix, Hash: secret.Hash, Roles: rs,
		CreatedAt: now.UTC().Truncate(time.Microsecond), CreatedBy: createdBy,
	}, nil
}
