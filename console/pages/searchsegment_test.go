package pages

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// fakeSegments answers a segment's list and count, remembering the
// searches it was asked.
type fakeSegments struct {
	membersv1connect.UnimplementedSegmentsServiceHandler
	mu      sync.Mutex
	lists   []*membersv1.ListSegmentMembersRequest
	counted []*membersv1.CountSegmentRequest
}

func (f *fakeSegments) ListSegmentMembers(_ context.Context, req *connect.Request[membersv1.ListSegmentMembersRequest]) (*connect.Response[membersv1.ListSegmentMembersResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, req.Msg)
	return connect.NewResponse(&membersv1.ListSegmentMembersResponse{Members: []*membersv1.SegmentMember{{Id: "m-1", DisplayName: "Sam Four"}}}), nil
}

func (f *fakeSegments) CountSegment(_ context.Context, req *connect.Request[membersv1.CountSegmentRequest]) (*connect.Response[membersv1.CountSegmentResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counted = append(f.counted, req.Msg)
	return connect.NewResponse(&membersv1.CountSegmentResponse{Count: 1}), nil
}

// A search with a filter looks inside the filter: the list and the count
// carry both, and the search form keeps the filter for the next search.
func TestMemberSearchWithinASegment(t *testing.T) {
	fs := &fakeSegments{}
	r := newRigWith(t, func(mux *http.ServeMux) { mux.Handle(membersv1connect.NewSegmentsServiceHandler(fs)) })
	cookie, _ := r.signIn(t, "organiser")
	res, page := r.do(t, http.MethodGet, "/members?q=sam&countries=FR", cookie, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{"1 member of the segment found", "Members of the segment whose name or e-mail address starts with “sam”",
		`<a href="/members/m-1">Sam Four</a>`, `<input type="hidden" name="countries" value="FR">`, "Search in this segment"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.lists) != 1 || fs.lists[0].GetQuery() != "sam" || strings.Join(fs.lists[0].GetFilter().GetCountryCodes(), ",") != "FR" {
		t.Errorf("the list was asked %v", fs.lists)
	}
	if len(fs.counted) != 1 || fs.counted[0].GetQuery() != "sam" {
		t.Errorf("the count was asked %v", fs.counted)
	}
	if len(r.members.queries) != 0 {
		t.Errorf("the search went to ListMembers, outside the segment: %q", r.members.queries)
	}
}
