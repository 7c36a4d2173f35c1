// Package audittest checks that a service audits every change: its
// catalogue covers every mutating procedure, and a call records what the
// catalogue says.
package audittest

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
)

// CheckCovered fails t when a mutating procedure of services has no
// catalogue entry, or an entry names a procedure the services do not have
// or that cannot change data.
func CheckCovered(t *testing.T, c audit.Catalogue, services ...protoreflect.ServiceDescriptor) {
	t.Helper()
	missing, stale := c.Missing(services...)
	for _, p := range missing {
		t.Errorf("%s changes data but has no audit catalogue entry: record an entry in the same transaction and name its action", p)
	}
	for _, p := range stale {
		t.Errorf("the audit catalogue names %s, which is not a mutating procedure of these services", p)
	}
}

// Watermark is the newest entry id of community before a call; Since
// returns what came after it.
type Watermark struct {
	client    auditv1connect.AuditServiceClient
	community string
	newest    string
}

// Mark reads the newest entry of community through client (a client of
// the service's AuditService, with an organiser's credentials).
func Mark(t testing.TB, client auditv1connect.AuditServiceClient, community string) *Watermark {
	t.Helper()
	w := &Watermark{client: client, community: community}
	if es := w.page(t, 1); len(es) > 0 {
		w.newest = es[0].GetId()
	}
	return w
}

func (w *Watermark) page(t testing.TB, size int32) []*auditv1.AuditEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := w.client.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: w.community, PageSize: size}))
	if err != nil {
		t.Fatalf("list audit entries: %v", err)
	}
	return res.Msg.GetEntries()
}

// Since returns the entries written after the mark, oldest first.
func (w *Watermark) Since(t testing.TB) []*auditv1.AuditEntry {
	t.Helper()
	var out []*auditv1.AuditEntry
	for _, e := range w.page(t, 500) {
		if e.GetId() <= w.newest {
			break
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	return out
}

// Expect fails t unless the entries written since the mark hold every
// action of want (for procedure), each naming a target, with no personal
// data in ids: an entry's actor and target ids must not be any of pii.
func (w *Watermark) Expect(t testing.TB, procedure string, want []string, pii ...string) {
	t.Helper()
	got := w.Since(t)
	var actions []string
	for _, e := range got {
		actions = append(actions, e.GetAction())
		for _, v := range pii {
			if v != "" && (e.GetTargetId() == v || e.GetActorId() == v) {
				t.Errorf("%s: audit entry %s holds personal data", procedure, e.GetAction())
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(actions, a) {
			t.Errorf("%s succeeded but recorded %v; want %q among them", procedure, actions, a)
		}
	}
}
