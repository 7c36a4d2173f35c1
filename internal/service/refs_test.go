package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/validate"
)

func TestRefsCheckIdsWithTheirOwner(t *testing.T) {
	ctx := context.Background()
	var asked []string
	owner := NewRefs("member", func(_ context.Context, community, id string) (bool, error) {
		asked = append(asked, community+"/"+id)
		switch id {
		case "down":
			return Owned(connect.NewError(connect.CodeInternal, errors.New("db at 10.0.0.7 refused")))
		case "gone":
			return Owned(connect.NewError(connect.CodeNotFound, errors.New("no such member")))
		}
		return community == "demo", nil
	})

	unknown, err := owner.Unknown(ctx, "demo", "ada", "gone", "ada", "bob")
	if err != nil || !slices.Equal(unknown, []string{"gone"}) || !slices.Equal(asked, []string{"demo/ada", "demo/gone", "demo/bob"}) {
		t.Errorf("Unknown = %v, %v after asking %v; want gone, each id asked once", unknown, err, asked)
	}
	if unknown, err := owner.Unknown(ctx, "other", "ada"); err != nil || !slices.Equal(unknown, []string{"ada"}) {
		t.Errorf("another community's answer = %v, %v; want ada unknown", unknown, err)
	}
	if unknown, err := owner.Unknown(ctx, "demo"); err != nil || unknown != nil {
		t.Errorf("no ids = %v, %v", unknown, err)
	}

	err = owner.Check(ctx, "demo", "host_ids", "ada", "gone")
	if fe := validate.FieldErrors(err); len(fe) != 1 || fe[0].Field != "host_ids" || !strings.Contains(fe[0].Reason, `"gone"`) {
		t.Errorf("Check = %v, want a field error on host_ids naming gone", err)
	}
	if err := owner.Check(ctx, "demo", "host_ids", "ada"); err != nil {
		t.Errorf("Check of a member = %v", err)
	}
	err = owner.Check(ctx, "demo", "host_ids", "down")
	if connect.CodeOf(err) != connect.CodeUnavailable || strings.Contains(err.Error(), "10.0.0.7") || validate.IsInvalid(err) {
		t.Errorf("an owner that cannot answer = %v, want Unavailable without its message", err)
	}

	var none *Refs
	if err := none.Check(ctx, "demo", "partner_id"); err != nil {
		t.Errorf("no ids and no owner = %v", err)
	}
	if _, err := none.Unknown(ctx, "demo", "p1"); !errors.Is(err, ErrRefsNotConfigured) {
		t.Errorf("an id and no owner = %v, want ErrRefsNotConfigured", err)
	}
	if fe := validate.FieldErrors(none.Check(ctx, "demo", "partner_id", "p1")); len(fe) != 1 || fe[0].Field != "partner_id" {
		t.Errorf("Check without an owner = %v, want a field error on partner_id", fe)
	}
}
