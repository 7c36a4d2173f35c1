package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// Dev identities: the audience every dev token is for, and the subjects
// of Kinship's own workloads.
const (
	devAudience           = "kinship"
	devWorkloadAudience   = "kinship-workload"
	workerSubject         = "kinship-worker"
	communicationsSubject = "kinship-communications"
	eventsSubject         = "kinship-events"
	partnersSubject       = "kinship-partners"
	insightsSubject       = "kinship-insights"
	devTokenTTL           = 30 * 24 * time.Hour
)

// tokenConfig is what every dev service trusts: the local issuer.
func tokenConfig(iss *localissuer.Issuer) auth.TokenConfig {
	return auth.TokenConfig{Issuer: iss.URL(), Audience: devAudience, WorkloadAudience: devWorkloadAudience,
		WorkloadSubjects: []string{workerSubject, communicationsSubject, eventsSubject, partnersSubject, insightsSubject}}
}

func workloadTokens(iss *localissuer.Issuer, subject string) auth.TokenSource {
	return iss.TokenSource(localissuer.Claims{Subject: subject, Audience: devWorkloadAudience, TTL: time.Hour})
}

// seedPerson is one of the demo community's people.
type seedPerson struct {
	role  auth.Role
	name  string
	email string
}

func seedPeople(community string) []seedPerson {
	return []seedPerson{
		{auth.Organiser, "Orla Organiser", "organiser@" + community + ".kinship.localhost"},
		{auth.Member, "Maya Member", "member@" + community + ".kinship.localhost"},
	}
}

// seed makes sure the community's organiser and member exist, and mints
// a token for each, kept under dataDir/tokens so scripts can read them.
func seed(ctx context.Context, iss *localissuer.Issuer, membersURL, community, dataDir string) (map[auth.Role]string, error) {
	admin, err := iss.Mint(localissuer.Claims{Subject: "kinship-dev-seed", Audience: devAudience, Roles: []string{string(auth.PlatformAdmin)}, TTL: time.Minute})
	if err != nil {
		return nil, err
	}
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+admin)
			return next(ctx, req)
		}
	}))
	client := membersv1connect.NewMembersServiceClient(http.DefaultClient, membersURL, bearer)
	tokens := map[auth.Role]string{}
	if err := os.MkdirAll(filepath.Join(dataDir, "tokens"), 0o700); err != nil {
		return nil, err
	}
	for _, person := range seedPeople(community) {
		id, err := ensureMember(ctx, client, community, person)
		if err != nil {
			return nil, fmt.Errorf("seed %s of %s: %w", person.role, community, err)
		}
		iss.AddPerson(localissuer.Person{Subject: personSubject(person.role, community), Name: person.name,
			Community: community, Roles: []string{string(person.role)}, MemberID: id})
		tok, err := iss.Mint(localissuer.Claims{
			Subject: personSubject(person.role, community), Audience: devAudience, Community: community,
			Roles: []string{string(person.role)}, MemberID: id, TTL: devTokenTTL,
		})
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dataDir, "tokens", community+"-"+string(person.role)+".jwt"), []byte(tok+"\n"), 0o600); err != nil {
			return nil, err
		}
		tokens[person.role] = tok
	}
	return tokens, nil
}

// ensureMember joins person, or finds them when an earlier start did.
func ensureMember(ctx context.Context, client membersv1connect.MembersServiceClient, community string, person seedPerson) (string, error) {
	res, err := client.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{
		Community: community, Email: person.email, DisplayName: person.name, EmailConsent: true,
	}))
	if err == nil {
		return res.Msg.GetMember().GetId(), nil
	}
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		return "", err
	}
	token := ""
	for {
		page, err := client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: community, PageSize: 500, PageToken: token}))
		if err != nil {
			return "", err
		}
		for _, m := range page.Msg.GetMembers() {
			if m.GetEmail() == person.email {
				return m.GetId(), nil
			}
		}
		if token = page.Msg.GetNextPageToken(); token == "" {
			return "", errors.New("member exists but cannot be found")
		}
	}
}
