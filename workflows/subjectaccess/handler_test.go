package subjectaccess_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/workflows/onboarding"
	"github.com/kinshiphq/kinship/workflows/subjectaccess"
)

// stores stands in for the five services: each answers ExportMemberData
// for the members of demo it knows, and notes the credentials it was
// asked with.
type stores struct {
	mu        sync.Mutex
	asked     map[string][]string // store -> Authorization headers
	eventDown bool
}

func (s *stores) answer(store string, h http.Header, community, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[store] = append(s.asked[store], h.Get("Authorization"))
	if community != "demo" || (id != "ada" && id != "bob") {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such member"))
	}
	if store == "events" && s.eventDown {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("database at 10.0.0.7 down"))
	}
	return json.Marshal(map[string]string{"store": store, "member_id": id})
}

type membersStore struct {
	membersv1connect.UnimplementedMembersServiceHandler
	s *stores
}

func (x membersStore) ExportMemberData(ctx context.Context, req *connect.Request[membersv1.ExportMemberDataRequest]) (*connect.Response[membersv1.ExportMemberDataResponse], error) {
	raw, err := x.s.answer("members", req.Header(), req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&membersv1.ExportMemberDataResponse{Json: raw}), nil
}

type eventsStore struct {
	eventsv1connect.UnimplementedAttendanceServiceHandler
	s *stores
}

func (x eventsStore) ExportMemberData(ctx context.Context, req *connect.Request[eventsv1.ExportMemberDataRequest]) (*connect.Response[eventsv1.ExportMemberDataResponse], error) {
	raw, err := x.s.answer("events", req.Header(), req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&eventsv1.ExportMemberDataResponse{Json: raw}), nil
}

type communicationsStore struct {
	communicationsv1connect.UnimplementedCommunicationsServiceHandler
	s *stores
}

func (x communicationsStore) ExportMemberData(ctx context.Context, req *connect.Request[communicationsv1.ExportMemberDataRequest]) (*connect.Response[communicationsv1.ExportMemberDataResponse], error) {
	raw, err := x.s.answer("communications", req.Header(), req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&communicationsv1.ExportMemberDataResponse{Json: raw}), nil
}

type partnersStore struct {
	partnersv1connect.UnimplementedPartnersServiceHandler
	s *stores
}

func (x partnersStore) ExportMemberData(ctx context.Context, req *connect.Request[partnersv1.ExportMemberDataRequest]) (*connect.Response[partnersv1.ExportMemberDataResponse], error) {
	raw, err := x.s.answer("partners", req.Header(), req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&partnersv1.ExportMemberDataResponse{Json: raw}), nil
}

type insightsStore struct {
	insightsv1connect.UnimplementedMemberDataServiceHandler
	s *stores
}

func (x insightsStore) ExportMemberData(ctx context.Context, req *connect.Request[insightsv1.ExportMemberDataRequest]) (*connect.Response[insightsv1.ExportMemberDataResponse], error) {
	raw, err := x.s.answer("insights", req.Header(), req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&insightsv1.ExportMemberDataResponse{Json: raw}), nil
}

// temporal knows one workflow: ada's onboarding journey, completed.
type temporal struct {
	client.Client
}

func (temporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if id != onboarding.WorkflowID("demo", "ada") {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-1"}, Type: &commonpb.WorkflowType{Name: "Onboarding"},
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, StartTime: timestamppb.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)),
		CloseTime: timestamppb.New(time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)), HistoryLength: 42,
	}}, nil
}

type recorded struct {
	mu      sync.Mutex
	entries []string
}

func (r *recorded) RecordNow(ctx context.Context, community, action, targetType, targetID string) error {
	p, _ := auth.FromContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, community+" "+action+" "+targetID+" by "+p.Subject)
	return nil
}

// One request gathers a member's data from every store, asking each with
// the caller's own credentials, and returns it as a zip archive whose
// manifest says what was included and why anything was not. A member asks
// for themselves only; an organiser for anyone of their community; a store
// that cannot answer is named in the receipt, never silently left out.
func TestOneRequestGathersEveryStore(t *testing.T) {
	issuer := authtest.Start(t)
	fakes := &stores{asked: map[string][]string{}}
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewMembersServiceHandler(membersStore{s: fakes}))
	mux.Handle(eventsv1connect.NewAttendanceServiceHandler(eventsStore{s: fakes}))
	mux.Handle(communicationsv1connect.NewCommunicationsServiceHandler(communicationsStore{s: fakes}))
	mux.Handle(partnersv1connect.NewPartnersServiceHandler(partnersStore{s: fakes}))
	mux.Handle(insightsv1connect.NewMemberDataServiceHandler(insightsStore{s: fakes}))
	services := httptest.NewServer(mux)
	t.Cleanup(services.Close)

	tokens, err := auth.NewTokenVerifier(issuer.Config(), http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	audit := &recorded{}
	serve := func(urls subjectaccess.URLs) string {
		logger := slog.New(slog.DiscardHandler)
		guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Policy: subjectaccess.Policy(), Logger: logger})
		h := subjectaccess.New(subjectaccess.Options{Stores: subjectaccess.Stores(urls, noop.NewTracerProvider()),
			Temporal: map[string]client.Client{"demo": temporal{}}, Audit: audit, Logger: logger})
		m := http.NewServeMux()
		m.Handle(membersv1connect.NewSubjectAccessServiceHandler(h, rpc.HandlerOptions(noop.NewTracerProvider(), logger, guard)...))
		srv := httptest.NewServer(m)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	all := serve(subjectaccess.URLs{Members: services.URL, Events: services.URL, Communications: services.URL, Partners: services.URL, Insights: services.URL})
	member := func(id string) string {
		return issuer.Token(t, localissuer.Claims{Subject: "u-" + id, Community: "demo", Roles: []string{"member"}, MemberID: id})
	}
	organiser := issuer.For(t, "demo", auth.Organiser)

	export := func(url, token string, req *membersv1.ExportSubjectDataRequest) (map[string][]byte, *membersv1.SubjectAccessReceipt, error) {
		t.Helper()
		c := membersv1connect.NewSubjectAccessServiceClient(http.DefaultClient, url, authtest.Bearer(token))
		stream, err := c.ExportSubjectData(context.Background(), connect.NewRequest(req))
		if err != nil {
			return nil, nil, err
		}
		var archive bytes.Buffer
		var receipt *membersv1.SubjectAccessReceipt
		for stream.Receive() {
			archive.Write(stream.Msg().GetChunk())
			if r := stream.Msg().GetReceipt(); r != nil {
				receipt = r
			}
		}
		if err := stream.Err(); err != nil {
			return nil, nil, err
		}
		zr, err := zip.NewReader(bytes.NewReader(archive.Bytes()), int64(archive.Len()))
		if err != nil {
			t.Fatalf("not a zip archive: %v", err)
		}
		files := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name], _ = io.ReadAll(rc)
			rc.Close()
		}
		return files, receipt, nil
	}

	t.Run("a member's own data from every store, with the journeys", func(t *testing.T) {
		files, receipt, err := export(all, member("ada"), &membersv1.ExportSubjectDataRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"communications.json", "events.json", "insights.json", "journeys.json", "manifest.json", "members.json", "partners.json"}
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("archive holds %v, want %v", names, want)
		}
		var manifest struct {
			MemberID string `json:"member_id"`
			Stores   []struct {
				Store    string `json:"store"`
				Included bool   `json:"included"`
			} `json:"stores"`
		}
		if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || manifest.MemberID != "ada" || len(manifest.Stores) != 6 {
			t.Errorf("manifest = %s, %v", files["manifest.json"], err)
		}
		if len(receipt.GetStores()) != 6 || receipt.GetMemberId() != "ada" {
			t.Errorf("receipt = %v", receipt)
		}
		var journeys struct {
			Workflows []struct {
				WorkflowID, Type, Status string
			} `json:"workflows"`
		}
		if err := json.Unmarshal(files["journeys.json"], &journeys); err != nil || len(journeys.Workflows) != 1 ||
			journeys.Workflows[0].Status != "Completed" || journeys.Workflows[0].Type != "Onboarding" {
			t.Errorf("journeys = %s, %v", files["journeys.json"], err)
		}
		if len(fakes.asked) != 5 {
			t.Errorf("stores asked: %v, want all five", fakes.asked)
		}
	})

	t.Run("each store is asked with the caller's own credentials", func(t *testing.T) {
		tok := member("bob")
		if _, _, err := export(all, tok, &membersv1.ExportSubjectDataRequest{}); err != nil {
			t.Fatal(err)
		}
		for _, store := range []string{"members", "events", "communications", "partners", "insights"} {
			if got := fakes.asked[store]; got[len(got)-1] != "Bearer "+tok {
				t.Errorf("%s was asked with another credential", store)
			}
		}
	})

	t.Run("a member may not ask for another's data", func(t *testing.T) {
		if _, _, err := export(all, member("bob"), &membersv1.ExportSubjectDataRequest{MemberId: "ada"}); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("bob asking for ada = %v, want PermissionDenied", err)
		}
	})

	t.Run("an organiser for anyone of the community; a store that cannot answer is named", func(t *testing.T) {
		fakes.mu.Lock()
		fakes.eventDown = true
		fakes.mu.Unlock()
		defer func() { fakes.mu.Lock(); fakes.eventDown = false; fakes.mu.Unlock() }()
		files, receipt, err := export(all, organiser, &membersv1.ExportSubjectDataRequest{MemberId: "ada"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := files["events.json"]; ok {
			t.Error("the archive holds events.json from a store that failed")
		}
		for _, s := range receipt.GetStores() {
			if s.GetStore() == "events" && (s.GetIncluded() || s.GetReason() != "unavailable (unavailable); ask again later") {
				t.Errorf("events in the receipt = %v", s)
			}
			if bytes.Contains([]byte(s.GetReason()), []byte("10.0.0.7")) {
				t.Errorf("the receipt leaks a store's error: %v", s)
			}
		}
	})

	t.Run("a member the members service does not know is not found, and nothing is exported", func(t *testing.T) {
		if _, _, err := export(all, organiser, &membersv1.ExportSubjectDataRequest{MemberId: "mallory"}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("an unknown member = %v, want NotFound", err)
		}
		other := issuer.For(t, "other", auth.Organiser)
		if _, _, err := export(all, other, &membersv1.ExportSubjectDataRequest{Community: "demo", MemberId: "ada"}); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("another community's organiser naming demo = %v, want PermissionDenied", err)
		}
		if _, _, err := export(all, other, &membersv1.ExportSubjectDataRequest{MemberId: "ada"}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("another community's organiser with ada's id = %v, want NotFound", err)
		}
	})

	t.Run("stores this instance does not reach are named as such", func(t *testing.T) {
		partial := serve(subjectaccess.URLs{Members: services.URL})
		_, receipt, err := export(partial, member("ada"), &membersv1.ExportSubjectDataRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range receipt.GetStores() {
			switch s.GetStore() {
			case "members", "journeys":
				if !s.GetIncluded() {
					t.Errorf("%s not included: %v", s.GetStore(), s)
				}
			default:
				if s.GetIncluded() || s.GetReason() != "not configured on this instance" {
					t.Errorf("%s = %v", s.GetStore(), s)
				}
			}
		}
	})

	audit.mu.Lock()
	defer audit.mu.Unlock()
	if len(audit.entries) < 4 || audit.entries[0] != "demo member.subject_access_exported ada by u-ada" {
		t.Errorf("audit entries = %v", audit.entries)
	}
}
