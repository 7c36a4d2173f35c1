package members_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

// TestSearchMembers searches over HTTP with ListMembers' query: by name
// words and address prefixes, paged, and never reaching another
// community's members however the caller asks.
func TestSearchMembers(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	other := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
	for _, m := range []struct{ email, name string }{
		{"ada@example.org", "Ada Lovelace"}, {"grace@example.org", "Grace Hopper"},
		{"lin@example.org", "Lin Ada"}, {"zoe@example.org", "Zoë Adams"},
	} {
		s.add(t, &membersv1.JoinCommunityRequest{Community: "demo", Email: m.email, DisplayName: m.name})
	}
	// The other community's member matches the same queries.
	if _, err := other.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: "other", Email: "ada@other.example", DisplayName: "Ada Secret"})); err != nil {
		t.Fatal(err)
	}

	search := func(c membersv1connect.MembersServiceClient, community, query string) ([]string, error) {
		var names []string
		token := ""
		for range 10 {
			res, err := c.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: community, Query: query, PageSize: 1, PageToken: token}))
			if err != nil {
				return names, err
			}
			for _, m := range res.Msg.GetMembers() {
				names = append(names, m.GetDisplayName())
			}
			if token = res.Msg.GetNextPageToken(); token == "" {
				return names, nil
			}
		}
		t.Fatal("paging does not end")
		return nil, nil
	}

	t.Run("finds by name word and address, paged", func(t *testing.T) {
		for query, want := range map[string][]string{
			"ada":        {"Ada Lovelace", "Lin Ada", "Zoë Adams"},
			"ADA L":      {"Ada Lovelace"},
			"hopper":     {"Grace Hopper"},
			"grace@exam": {"Grace Hopper"},
			"zoë":        {"Zoë Adams"},
			"secret":     nil,
		} {
			got, err := search(s.client, "demo", query)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("query %q = %q, %v; want %q", query, got, err, want)
			}
		}
	})

	t.Run("another community's member is never found", func(t *testing.T) {
		for _, query := range []string{"ada", "secret", "ada@other.example"} {
			got, err := search(s.client, "demo", query)
			if err != nil || slices.Contains(got, "Ada Secret") {
				t.Errorf("demo's search %q = %q, %v", query, got, err)
			}
			// Naming the other community with demo's credential is refused.
			if _, err := search(s.client, "other", query); connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("demo searching other for %q: %v, want PermissionDenied", query, err)
			}
		}
		got, err := search(other, "other", "ada")
		if err != nil || !slices.Equal(got, []string{"Ada Secret"}) {
			t.Errorf("other's own search = %q, %v", got, err)
		}
		// A page token from demo's search does not open demo to other.
		first, err := s.client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", Query: "ada", PageSize: 1}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: "other", Query: "ada", PageToken: first.Msg.GetNextPageToken()}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("demo's page token in other: %v, want InvalidArgument", err)
		}
	})

	t.Run("a bad query is refused naming the field", func(t *testing.T) {
		for name, query := range map[string]string{
			"too long":   strings.Repeat("a", 101),
			"blank":      "   ",
			"line break": "ada\nlovelace",
		} {
			_, err := s.client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", Query: query}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "query") {
				t.Errorf("%s: %v, want InvalidArgument naming query", name, err)
			}
		}
	})
}
