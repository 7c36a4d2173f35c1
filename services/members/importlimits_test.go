package members_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// An import past its limit is refused before anything goes in — not
// after its first batches were committed — for members and activities.
func TestImportsPastTheLimitImportNothing(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	ada := s.add(t, validJoin())
	integrations := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	// Valid rows from the first line on: whatever a batch-by-batch import
	// committed before noticing the limit would show.
	rows := func(header string, row func(i int) string) []byte {
		var b strings.Builder
		b.WriteString(header + "\n")
		for i := range domain.MaxImportRows + 1 {
			b.WriteString(row(i) + "\n")
		}
		return []byte(b.String())
	}
	send := func(data []byte, first func(chunk []byte) error, next func(chunk []byte) error) {
		for i := 0; len(data) > 0; i++ {
			n := min(len(data), 64<<10)
			send := next
			if i == 0 {
				send = first
			}
			if err := send(data[:n]); err != nil {
				return // the server answered early; CloseAndReceive says why
			}
			data = data[n:]
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name    string
		run     func() error
		nothing func(t *testing.T)
	}{
		{"members", func() error {
			stream := s.client.ImportMembers(ctx)
			send(rows("email,display_name", func(i int) string { return fmt.Sprintf("m%d@example.org,Member %d", i, i) }),
				func(c []byte) error { return stream.Send(&membersv1.ImportMembersRequest{Community: "demo", Chunk: c}) },
				func(c []byte) error { return stream.Send(&membersv1.ImportMembersRequest{Chunk: c}) })
			_, err := stream.CloseAndReceive()
			return err
		}, func(t *testing.T) {
			res, err := s.client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", PageSize: 10}))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(res.Msg.GetMembers()); n != 1 {
				t.Errorf("%d members after the refused import, want only ada", n)
			}
		}},
		{"activities", func() error {
			stream := integrations.ImportActivities(ctx)
			send(rows("type,occurred_at,source_event_id,member_id", func(i int) string { return fmt.Sprintf("hosted_event,%s,big-%d,%s", now, i, ada) }),
				func(c []byte) error {
					return stream.Send(&membersv1.ImportActivitiesRequest{Community: "demo", Chunk: c})
				},
				func(c []byte) error { return stream.Send(&membersv1.ImportActivitiesRequest{Chunk: c}) })
			_, err := stream.CloseAndReceive()
			return err
		}, func(t *testing.T) {
			res, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{MemberId: ada}))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range res.Msg.GetRecent() {
				if a.GetType() == "hosted_event" {
					t.Fatalf("the refused import recorded %v", a)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || !strings.Contains(ce.Message(), "chunk") ||
				!strings.Contains(ce.Message(), "nothing was imported") {
				t.Fatalf("import of %d rows: %v, want InvalidArgument on chunk saying nothing was imported", domain.MaxImportRows+1, err)
			}
			tc.nothing(t)
		})
	}
}
