package members_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/events"
)

// post sends a Connect JSON body to procedure with token (none when
// empty) and returns the status, the headers and the body.
func (s *service) post(t *testing.T, procedure, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+procedure, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, raw
}

// memberByEmail finds a member as the demo organiser.
func (s *service) memberByEmail(t *testing.T, email string) *membersv1.Member {
	t.Helper()
	res, err := s.client.ListMembers(context.Background(), connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", PageSize: 500}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Msg.GetMembers() {
		if m.GetEmail() == email {
			return m
		}
	}
	t.Fatalf("no member %s", email)
	return nil
}

// memberEvents waits until the members topic holds at least n events keyed
// by memberID, and returns all of them (after a short grace for more).
func (s *service) memberEvents(t *testing.T, memberID string, n int) []kafka.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []kafka.Event
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: s.brokers, Topic: events.Topic("demo"), Partition: 0, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			if e, err := kafka.ParseEvent(m); err == nil && e.Key == memberID {
				out = append(out, e)
			}
		}
		_ = r.Close()
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func types(evs []kafka.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// An attacker who wants to know whether an address belongs to a member
// joins with it and with a fresh one, over HTTP as anyone can: the two
// answers are the same bytes, and carry nothing of the member.
func TestPublicJoinsAnswerTheSameForNewAndExistingAddresses(t *testing.T) {
	s := start(t)
	ada := s.add(t, validJoin()) // ada@example.org is a member, verified
	const procedure = membersv1connect.MembersServiceJoinCommunityProcedure
	body := func(email string) string {
		return `{"community":"demo","email":"` + email + `","displayName":"Someone Else","emailConsent":true}`
	}
	memberToken := s.issuer.Token(t, localClaims("someone", auth.Member, "not-a-member-id"))
	for _, caller := range []struct{ name, token string }{{"anonymous", ""}, {"with a member's credentials", memberToken}} {
		t.Run(caller.name, func(t *testing.T) {
			existingStatus, existingHeader, existing := s.post(t, procedure, caller.token, body("ADA@example.org"))
			freshStatus, freshHeader, fresh := s.post(t, procedure, caller.token, body("fresh-"+strings.ReplaceAll(caller.name, " ", "-")+"@example.org"))
			if existingStatus != freshStatus || string(existing) != string(fresh) {
				t.Errorf("existing address: %d %s\nnew address:      %d %s\nwant the same answer", existingStatus, existing, freshStatus, fresh)
			}
			if existingHeader.Get("Content-Type") != freshHeader.Get("Content-Type") || existingHeader.Get("Content-Length") != freshHeader.Get("Content-Length") {
				t.Errorf("headers differ: %v vs %v", existingHeader, freshHeader)
			}
			if existingStatus != http.StatusOK || string(existing) != `{"confirmationSent":true}` {
				t.Errorf("answer = %d %s, want 200 {\"confirmationSent\":true}", existingStatus, existing)
			}
			for _, secret := range []string{ada, "Ada Lovelace", "ada@example.org"} {
				if strings.Contains(string(existing), secret) {
					t.Errorf("the answer holds the member's %q", secret)
				}
			}
		})
	}

	// Ada is told once ("you're already in"), not once per attempt, and
	// nothing of hers changed.
	evs := s.memberEvents(t, ada, 3)
	if got := types(evs); !slices.Equal(got, []string{events.TypeMemberJoined, events.TypeConsentChanged, events.TypeJoinRepeated}) {
		t.Errorf("Ada's events = %v, want her join, her consent and one JoinRepeated", got)
	}
	got, err := s.client.GetMember(context.Background(), connect.NewRequest(&membersv1.GetMemberRequest{Id: ada}))
	if err != nil || got.Msg.GetMember().GetDisplayName() != "Ada Lovelace" || !got.Msg.GetMember().GetEmailVerified() {
		t.Errorf("Ada after the repeated joins = %v, %v", got.Msg.GetMember(), err)
	}

	// A new address waits unverified, without consent, for its link.
	fresh := s.memberByEmail(t, "fresh-anonymous@example.org")
	if fresh.GetEmailVerified() || fresh.GetEmailConsent() {
		t.Errorf("publicly joined member = %v, want unverified without consent", fresh)
	}
	evs = s.memberEvents(t, fresh.GetId(), 2)
	if got := types(evs); !slices.Equal(got, []string{events.TypeMemberJoined, events.TypeEmailConfirmationRequested}) {
		t.Fatalf("new member's events = %v", got)
	}
	joined, err := events.DecodeMemberJoined(evs[0])
	if err != nil || joined.GetEmailVerified() || joined.GetEmailConsent() {
		t.Errorf("MemberJoined = %v, %v; want unverified, no consent", joined, err)
	}
	asked, err := events.DecodeEmailConfirmationRequested(evs[1])
	if err != nil || asked.GetEmail() != "fresh-anonymous@example.org" || asked.GetReason() != "join" {
		t.Errorf("EmailConfirmationRequested = %v, %v", asked, err)
	}

	// The team adding an existing address is told so.
	if _, err := s.client.JoinCommunity(context.Background(), connect.NewRequest(validJoin())); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("an organiser adding Ada again = %v, want AlreadyExists", err)
	}
}

// Someone signs up another person's address with e-mail consent: nothing
// may be sent to it but the confirmation link until its holder follows it.
func TestConsentTakesEffectOnlyWhenTheAddressIsConfirmed(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	join := validJoin()
	join.Email = "victim@example.org"
	res, err := s.anon.JoinCommunity(ctx, connect.NewRequest(join))
	if err != nil || res.Msg.GetMember() != nil || !res.Msg.GetConfirmationSent() {
		t.Fatalf("public join = %v, %v", res, err)
	}
	victim := s.memberByEmail(t, "victim@example.org")
	consents := func() (bool, []*membersv1.ConsentRecord) {
		t.Helper()
		res, err := s.client.GetConsents(ctx, connect.NewRequest(&membersv1.GetConsentsRequest{MemberId: victim.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Msg.GetCurrent() {
			if c.GetPurpose() == "email.announcements" {
				return c.GetGranted(), res.Msg.GetLedger()
			}
		}
		return false, res.Msg.GetLedger()
	}
	if granted, ledger := consents(); granted || len(ledger) != 0 {
		t.Errorf("before confirmation: announcements granted=%v, ledger %v", granted, ledger)
	}
	segments := membersv1connect.NewSegmentsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	audience := func() int64 {
		t.Helper()
		res, err := segments.CountSegment(ctx, connect.NewRequest(&membersv1.CountSegmentRequest{Filter: &membersv1.SegmentFilter{Consents: []string{"email.announcements"}}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetCount()
	}
	if n := audience(); n != 0 {
		t.Errorf("announcement audience before confirmation = %d, want 0", n)
	}

	workload := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	confirm := func(community, id, email string) (*membersv1.Member, error) {
		res, err := workload.ConfirmEmail(ctx, connect.NewRequest(&membersv1.ConfirmEmailRequest{Community: community, MemberId: id, Email: email}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetMember(), nil
	}
	for name, tt := range map[string]struct {
		community, id, email string
		want                 connect.Code
	}{
		"an address the member does not have": {"demo", victim.GetId(), "attacker@example.org", connect.CodeFailedPrecondition},
		"the member in another community":     {"other", victim.GetId(), "victim@example.org", connect.CodeNotFound},
		"no address":                          {"demo", victim.GetId(), "", connect.CodeInvalidArgument},
	} {
		if _, err := confirm(tt.community, tt.id, tt.email); connect.CodeOf(err) != tt.want {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
	if granted, _ := consents(); granted {
		t.Fatal("a refused confirmation put the consent in effect")
	}

	m, err := confirm("demo", victim.GetId(), "victim@example.org")
	if err != nil || !m.GetEmailVerified() || !m.GetEmailConsent() {
		t.Fatalf("confirmation = %v, %v", m, err)
	}
	granted, ledger := consents()
	if !granted || len(ledger) != 1 || ledger[0].GetSource() != "double-opt-in" {
		t.Errorf("after confirmation: granted=%v ledger %v, want one grant from double-opt-in", granted, ledger)
	}
	if n := audience(); n != 1 {
		t.Errorf("announcement audience after confirmation = %d, want 1", n)
	}
	if again, err := confirm("demo", victim.GetId(), "victim@example.org"); err != nil || !again.GetEmailVerified() {
		t.Errorf("confirming twice = %v, %v", again, err)
	}
	want := []string{events.TypeMemberJoined, events.TypeEmailConfirmationRequested, events.TypeConsentChanged, events.TypeEmailConfirmed}
	evs := s.memberEvents(t, victim.GetId(), len(want))
	if got := types(evs); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v (nothing more for the second confirmation)", got, want)
	}
	if confirmed, err := events.DecodeEmailConfirmed(evs[len(evs)-1]); err != nil || confirmed.GetReason() != "join" || confirmed.GetEmail() != "victim@example.org" {
		t.Errorf("EmailConfirmed = %v, %v", confirmed, err)
	}
}

// A member changing their own address keeps the old one until the new one
// is confirmed; an organiser's change vouches for the address at once.
func TestAddressChanges(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	id := s.add(t, validJoin())
	self := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Token(t, localClaims("ada", auth.Member, id))))
	update := func(c membersv1connect.MembersServiceClient, email string) *membersv1.Member {
		t.Helper()
		res, err := c.UpdateProfile(ctx, connect.NewRequest(&membersv1.UpdateProfileRequest{Id: id,
			Profile: &membersv1.Profile{Email: email}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetMember()
	}
	m := update(self, "Ada@New.example.org")
	if m.GetEmail() != "ada@example.org" || m.GetPendingEmail() != "ada@new.example.org" || !m.GetEmailVerified() {
		t.Fatalf("after the member's own change: %v", m)
	}
	workload := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	res, err := workload.ConfirmEmail(ctx, connect.NewRequest(&membersv1.ConfirmEmailRequest{Community: "demo", MemberId: id, Email: "ada@new.example.org"}))
	if err != nil || res.Msg.GetMember().GetEmail() != "ada@new.example.org" || res.Msg.GetMember().GetPendingEmail() != "" {
		t.Fatalf("confirming the change = %v, %v", res, err)
	}
	_, err = workload.ConfirmEmail(ctx, connect.NewRequest(&membersv1.ConfirmEmailRequest{Community: "demo", MemberId: id, Email: "ada@example.org"}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("a link for the old address after the change = %v, want FailedPrecondition", err)
	}
	m = update(s.client, "ada@third.example.org")
	if m.GetEmail() != "ada@third.example.org" || m.GetPendingEmail() != "" || !m.GetEmailVerified() {
		t.Errorf("after the organiser's change: %v", m)
	}

	want := []string{events.TypeMemberJoined, events.TypeConsentChanged, events.TypeEmailConfirmationRequested,
		events.TypeProfileUpdated, events.TypeEmailConfirmed, events.TypeProfileUpdated, events.TypeEmailConfirmed}
	evs := s.memberEvents(t, id, len(want))
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	asked, err := events.DecodeEmailConfirmationRequested(evs[2])
	if err != nil || asked.GetEmail() != "ada@new.example.org" || asked.GetReason() != "email_change" {
		t.Errorf("EmailConfirmationRequested = %v, %v", asked, err)
	}
	for i, reason := range map[int]string{4: "email_change", 6: "organiser"} {
		if c, err := events.DecodeEmailConfirmed(evs[i]); err != nil || c.GetReason() != reason {
			t.Errorf("EmailConfirmed %d = %v, %v; want reason %s", i, c, err, reason)
		}
	}
}
