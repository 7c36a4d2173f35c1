package members_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/services/members/api"
)

// Outcomes of a guarded call.
const (
	unauthenticated = "unauthenticated"
	denied          = "permission_denied"
	allowed         = "allowed"
)

// Who calls, in the guard table's columns.
var callers = []string{"none", "expired", "wrong-audience", "other-community", "api-key",
	"organiser", "staff", "ambassador", "member", "platform-admin", "workload"}

// expectations is the access table of the members service, written out by
// hand: a procedure missing here fails TestEveryRPCIsGuarded.
var expectations = map[string]map[string]string{
	membersv1connect.MembersServiceJoinCommunityProcedure:   row(allowed, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceGetMemberProcedure:       row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceListMembersProcedure:     row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.AccessServiceCreateAPIKeyProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceListAPIKeysProcedure:      row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceRevokeAPIKeyProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceListAuditEntriesProcedure: row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceVerifyAPIKeyProcedure:     row(unauthenticated, denied, denied, denied, denied, denied, allowed),
}

// row fills a table row: anonymous callers get none, bad tokens are
// unauthenticated, another community's organiser is denied, the API key
// (an organiser key) is treated as an organiser, and the roles follow.
func row(none, organiser, staff, ambassador, member, admin, workload string) map[string]string {
	return map[string]string{
		"none": none, "expired": unauthenticated, "wrong-audience": unauthenticated, "other-community": denied,
		"api-key": organiser, "organiser": organiser, "staff": staff, "ambassador": ambassador, "member": member,
		"platform-admin": admin, "workload": workload,
	}
}

func TestEveryRPCIsGuarded(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		membersv1.File_kinship_members_v1_members_proto.Services().ByName("MembersService"),
		membersv1.File_kinship_members_v1_access_proto.Services().ByName("AccessService"),
	}
	if missing := api.Policy().Missing(services...); len(missing) > 0 {
		t.Errorf("procedures without a policy entry: %v", missing)
	}
	for _, svc := range services {
		for i := range svc.Methods().Len() {
			procedure := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(i).Name())
			if _, ok := expectations[procedure]; !ok {
				t.Errorf("%s has no row in the guard table", procedure)
			}
		}
	}

	s := start(t)
	ctx := context.Background()
	self, err := s.anon.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	memberID := self.Msg.GetMember().GetId()
	organiser := s.issuer.For(t, "demo", auth.Organiser)
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, authtest.Bearer(organiser))
	key, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Community: "demo", Name: "import script", Roles: []string{"organiser"}}))
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Community: "demo", Name: "to revoke", Roles: []string{"staff"}}))
	if err != nil {
		t.Fatal(err)
	}

	tokens := map[string]string{
		"expired":         s.issuer.Token(t, localissuer.Claims{Subject: "late", Community: "demo", Roles: []string{"organiser"}, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong-audience":  s.issuer.Token(t, localissuer.Claims{Subject: "x", Community: "demo", Roles: []string{"organiser"}, Audience: "another-app"}),
		"other-community": s.issuer.For(t, "other", auth.Organiser),
		"api-key":         key.Msg.GetSecret(),
		"platform-admin":  s.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}),
		"workload":        s.issuer.Workload(t),
	}
	for _, role := range []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member} {
		tokens[string(role)] = s.issuer.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: "demo", Roles: []string{string(role)}, MemberID: memberID})
	}

	n := 0
	for procedure, want := range expectations {
		for _, caller := range callers {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				n++
				body := map[string]any{"community": "demo"}
				switch procedure {
				case membersv1connect.MembersServiceJoinCommunityProcedure:
					body["email"], body["displayName"] = fmt.Sprintf("guard-%d@example.org", n), "Guard"
				case membersv1connect.MembersServiceGetMemberProcedure:
					body["id"] = memberID
				case membersv1connect.AccessServiceCreateAPIKeyProcedure:
					body["name"], body["roles"] = "guard", []string{"staff"}
				case membersv1connect.AccessServiceRevokeAPIKeyProcedure:
					body["id"] = doomed.Msg.GetKey().GetId()
				case membersv1connect.AccessServiceVerifyAPIKeyProcedure:
					body = map[string]any{"key": "kinship_aaaaaaaa_" + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
				}
				got := call(t, s.url+procedure, tokens[caller], body)
				switch want[caller] {
				case allowed:
					if got != "ok" && got != "not_found" {
						t.Errorf("%s as %s = %s, want it allowed", procedure, caller, got)
					}
				default:
					if got != want[caller] {
						t.Errorf("%s as %s = %s, want %s", procedure, caller, got, want[caller])
					}
				}
			})
		}
	}
}

// call posts body as Connect JSON and returns "ok" or the error code.
func call(t *testing.T, url, token string, body any) string {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return "ok"
	}
	var e struct{ Code string }
	if err := json.Unmarshal(out, &e); err != nil {
		return fmt.Sprintf("http %d %s", res.StatusCode, out)
	}
	return e.Code
}
