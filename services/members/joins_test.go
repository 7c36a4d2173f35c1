package members_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// Joins arriving together over HTTP — public and the team's, new
// addresses, addresses of members and the same new address several times
// — are committed together (group commit) yet each gets the answer it
// gets alone: a public join the same bytes whether or not the address is
// a member's, the team ALREADY_EXISTS for a member's address; and each
// member ends up with exactly its events and one audit entry.
func TestConcurrentJoinsAnswerAsAlone(t *testing.T) {
	s := start(t)
	taken := s.add(t, &membersv1.JoinCommunityRequest{Community: "demo", Email: "taken@example.org", DisplayName: "Taken"})

	type call struct {
		name   string
		public bool
		email  string
	}
	var calls []call
	for i := range 8 {
		calls = append(calls, call{fmt.Sprintf("public new %d", i), true, fmt.Sprintf("new-%d@example.org", i)})
	}
	for i := range 4 {
		calls = append(calls, call{fmt.Sprintf("public taken %d", i), true, "taken@example.org"},
			call{fmt.Sprintf("public twice %d", i), true, "twice@example.org"},
			call{fmt.Sprintf("team taken %d", i), false, "taken@example.org"},
			call{fmt.Sprintf("team new %d", i), false, fmt.Sprintf("team-%d@example.org", i)})
	}
	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make([]answer, len(calls))
	go1 := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			<-go1
			if c.public {
				status, _, body := s.post(t, "/kinship.members.v1.MembersService/JoinCommunity", "",
					fmt.Sprintf(`{"community":"demo","email":%q,"displayName":"Someone","emailConsent":true}`, c.email))
				answers[i] = answer{status: status, body: string(body)}
				return
			}
			_, err := s.client.JoinCommunity(context.Background(), connect.NewRequest(&membersv1.JoinCommunityRequest{
				Community: "demo", Email: c.email, DisplayName: "Someone"}))
			answers[i] = answer{err: err}
		})
	}
	close(go1)
	wg.Wait()

	for i, c := range calls {
		a := answers[i]
		switch {
		case c.public && (a.status != http.StatusOK || a.body != `{"confirmationSent":true}`):
			t.Errorf("%s: %d %s, want 200 {\"confirmationSent\":true}", c.name, a.status, a.body)
		case !c.public && c.email == "taken@example.org" && connect.CodeOf(a.err) != connect.CodeAlreadyExists:
			t.Errorf("%s: %v, want ALREADY_EXISTS", c.name, a.err)
		case !c.public && c.email != "taken@example.org" && a.err != nil:
			t.Errorf("%s: %v", c.name, a.err)
		}
	}

	d, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Each address one member, each member exactly its events and one
	// join audited: a public join MemberJoined and the confirmation it
	// asks for; the team's MemberJoined; and for a member's address named
	// by public joins, one message to them (at most one a day).
	want := map[string]int{"taken@example.org": 2, "twice@example.org": 3}
	for i := range 8 {
		want[fmt.Sprintf("new-%d@example.org", i)] = 2
	}
	for i := range 4 {
		want[fmt.Sprintf("team-%d@example.org", i)] = 1
	}
	rows, err := d.Query(`SELECT m.email, m.id,
		(SELECT count(*) FROM outbox o WHERE o.event_key = m.id),
		(SELECT count(*) FROM audit_log a WHERE a.target_id = m.id AND a.action = 'member.joined')
		FROM members m WHERE m.community = 'demo'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var email, id string
		var events, joined int
		if err := rows.Scan(&email, &id, &events, &joined); err != nil {
			t.Fatal(err)
		}
		if seen[email] {
			t.Errorf("%s: a second member", email)
		}
		seen[email] = true
		if email == "taken@example.org" && id != taken {
			t.Errorf("taken@example.org is member %s, want %s", id, taken)
		}
		if events != want[email] || joined != 1 {
			t.Errorf("%s: %d events and %d join audit entries, want %d and 1", email, events, joined, want[email])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Errorf("%d members, want %d", len(seen), len(want))
	}
}
