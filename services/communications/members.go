package communications

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// membersConfirmer confirms addresses through the members API, with this
// service's workload credentials.
type membersConfirmer struct {
	client membersv1connect.MembersServiceClient
}

// ConfirmEmail asks the members service to confirm email for memberID.
// An address the member no longer has or asks for is
// domain.ErrStaleConfirmation.
func (m membersConfirmer) ConfirmEmail(ctx context.Context, community, memberID, email string) error {
	_, err := m.client.ConfirmEmail(ctx, connect.NewRequest(&membersv1.ConfirmEmailRequest{Community: community, MemberId: memberID, Email: email}))
	switch connect.CodeOf(err) {
	case connect.CodeFailedPrecondition, connect.CodeNotFound:
		return fmt.Errorf("confirm address of member %s: %w", memberID, domain.ErrStaleConfirmation)
	}
	if err != nil {
		return fmt.Errorf("confirm address of member %s: %w", memberID, err)
	}
	return nil
}
