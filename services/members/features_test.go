package members_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/members/events"
	partnerdomain "github.com/kinshiphq/kinship/services/partners/domain"
	partnerevents "github.com/kinshiphq/kinship/services/partners/events"
)

func importCSV(t *testing.T, c membersv1connect.MembersServiceClient, csv string, dryRun bool) (*membersv1.ImportMembersResponse, error) {
	t.Helper()
	stream := c.ImportMembers(context.Background())
	data := []byte(csv)
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), 7) // tiny chunks: records cross chunk boundaries
		req := &membersv1.ImportMembersRequest{Chunk: data[:n]}
		if first {
			req.Community, req.DryRun = "demo", dryRun
		}
		if err := stream.Send(req); err != nil {
			break
		}
		data = data[n:]
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func TestImportIsIdempotentAndReportsBadRowsByLine(t *testing.T) {
	s := start(t)
	csv := "\ufeffemail,display_name,interests,country_code,email_consent\n" +
		"ada@example.org,Ada,solar;climate,DE,true\n" +
		"bob@example.org,,,FR,false\n" + // no name
		`cleo@example.org,"Cleo ""C"" Smith",,zz,` + "\n" + // bad country
		"dan@example.org,Dan,,,maybe\n" + // bad consent
		"ADA@example.org,Ada Lovelace,,,\n" // same address again: an update
	dry, err := importCSV(t, s.client, csv, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.GetDryRun() || dry.GetCreated() != 1 || dry.GetUpdated() != 0 || dry.GetFailed() != 3 {
		t.Errorf("dry run = %v", dry)
	}
	if list, _ := s.client.ListMembers(context.Background(), connect.NewRequest(&membersv1.ListMembersRequest{})); len(list.Msg.GetMembers()) != 0 {
		t.Fatal("a dry run stored members")
	}

	res, err := importCSV(t, s.client, csv, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetRows() != 5 || res.GetCreated() != 1 || res.GetUpdated() != 0 || res.GetFailed() != 3 {
		t.Errorf("import = %v", res)
	}
	var lines []string
	for _, e := range res.GetErrors() {
		lines = append(lines, fmt.Sprintf("%d:%s", e.GetLine(), e.GetField()))
	}
	if !slices.Equal(lines, []string{"3:display_name", "4:country_code", "5:email_consent"}) {
		t.Errorf("errors = %v", res.GetErrors())
	}
	again, err := importCSV(t, s.client, csv, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetCreated() != 0 || again.GetUpdated() != 0 || again.GetUnchanged() != 1 {
		t.Errorf("re-import = %v, want nothing created or changed", again)
	}
	list, err := s.client.ListMembers(context.Background(), connect.NewRequest(&membersv1.ListMembersRequest{}))
	if err != nil || len(list.Msg.GetMembers()) != 1 {
		t.Fatalf("members after two imports = %v, %v", list, err)
	}
	ada := list.Msg.GetMembers()[0]
	if ada.GetDisplayName() != "Ada Lovelace" || !ada.GetEmailConsent() || ada.GetProfile().GetLocation().GetCountryCode() != "DE" {
		t.Errorf("imported member = %v", ada)
	}

	// The export reads back as an import that changes nothing.
	stream, err := s.client.ExportMembers(context.Background(), connect.NewRequest(&membersv1.ExportMembersRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var exported bytes.Buffer
	for stream.Receive() {
		exported.Write(stream.Msg().GetChunk())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exported.String(), "email,display_name,") || !strings.Contains(exported.String(), "ada@example.org,Ada Lovelace,climate;solar") {
		t.Errorf("export = %q", exported.String())
	}
	round, err := importCSV(t, s.client, exported.String(), false)
	if err != nil || round.GetUnchanged() != 1 || round.GetCreated()+round.GetUpdated()+round.GetFailed() != 0 {
		t.Errorf("re-importing the export = %v, %v", round, err)
	}

	for name, bad := range map[string]string{
		"empty":          "",
		"unknown column": "email,display_name,shoe_size\n",
		"no email":       "display_name\nAda\n",
	} {
		if _, err := importCSV(t, s.client, bad, false); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

func TestProfileConsentLevelsAndErasureArePublished(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	join := validJoin()
	join.Profile = &membersv1.Profile{TimeZone: "Europe/Berlin", Location: &membersv1.Location{City: "Berlin", CountryCode: "de"}}
	joined, err := s.client.JoinCommunity(ctx, connect.NewRequest(join))
	if err != nil {
		t.Fatal(err)
	}
	id := joined.Msg.GetMember().GetId()
	memberToken := s.issuer.Token(t, localClaims("ada", auth.Member, id))
	self := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(memberToken))

	_, err = self.UpdateProfile(ctx, connect.NewRequest(&membersv1.UpdateProfileRequest{Id: id,
		Profile: &membersv1.Profile{TimeZone: "Mars/Base"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"time_zone"}}}))
	if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{"time_zone"}) {
		t.Errorf("unknown time zone = %v, want InvalidArgument on time_zone", err)
	}
	updated, err := self.UpdateProfile(ctx, connect.NewRequest(&membersv1.UpdateProfileRequest{Id: id,
		Profile: &membersv1.Profile{Locale: "pt-br", Skills: []string{"cooking"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"locale", "skills"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if p := updated.Msg.GetMember().GetProfile(); p.GetLocale() != "pt-BR" || p.GetTimeZone() != "Europe/Berlin" || !slices.Equal(p.GetSkills(), []string{"cooking"}) {
		t.Errorf("profile after update = %v", p)
	}
	if _, err := self.RecordConsent(ctx, connect.NewRequest(&membersv1.RecordConsentRequest{MemberId: id, Purpose: "email.digest",
		Granted: true, Source: "settings-page", PolicyVersion: "2026-01"})); err != nil {
		t.Fatal(err)
	}

	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	for i, typ := range []string{"attended_event", "attended_event", "hosted_event"} {
		res, err := engagement.RecordActivity(ctx, connect.NewRequest(&membersv1.RecordActivityRequest{Community: "demo", MemberId: id,
			Type: typ, OccurredAt: timestamppb.Now(), SourceEventId: fmt.Sprintf("ev-%d", max(i-1, 0))}))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && res.Msg.GetRecorded() {
			t.Error("the same source event counted twice")
		}
	}
	eng, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{Community: "demo", MemberId: id}))
	if err != nil || eng.Msg.GetScore() != 15 || eng.Msg.GetLevel() != "Participant" {
		t.Errorf("engagement = %v, %v; want 15 points, Participant", eng, err)
	}
	if _, err := self.EraseMember(ctx, connect.NewRequest(&membersv1.EraseMemberRequest{MemberId: id})); err != nil {
		t.Fatal(err)
	}

	want := []string{events.TypeMemberJoined, events.TypeConsentChanged, events.TypeProfileUpdated, events.TypeConsentChanged,
		events.TypeActivityRecorded, events.TypeLevelChanged, events.TypeActivityRecorded, events.TypeMemberErased}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		got = eventTypes(t, s.brokers, id)
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Errorf("events of the member = %v, want %v", got, want)
	}
	erased, err := s.client.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: id}))
	if err != nil || erased.Msg.GetMember().GetEmail() == "ada@example.org" || erased.Msg.GetMember().GetStatus() != membersv1.MemberStatus_MEMBER_STATUS_ERASED {
		t.Errorf("after erasure = %v, %v", erased, err)
	}
}

// eventTypes reads the members topic and returns the types of events
// keyed by member id, in order.
func eventTypes(t *testing.T, brokers []string, memberID string) []string {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: events.Topic("demo"), Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var out []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			return out
		}
		if string(m.Key) != memberID {
			continue
		}
		if e, err := kafka.ParseEvent(m); err == nil {
			out = append(out, e.Type)
		}
	}
}

func TestCheckInsFromTheEventsServiceBecomeActivities(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	joined, err := s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	id := joined.Msg.GetMember().GetId()
	checkedIn := func(eventID, memberID string) kafkago.Message {
		data, _ := proto.Marshal(&eventsv1.CheckedIn{EventId: "e1", OccurrenceId: "o1", Community: "demo", MemberId: memberID, CheckedInAt: timestamppb.Now()})
		return kafka.Event{ID: eventID, Type: events.TypeCheckedIn, Source: "/communities/demo/events", Time: time.Now(),
			ContentType: kafka.ContentTypeProtobuf, Data: data, Topic: "demo.events.v1", Key: memberID}.Message()
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: s.brokers})
	defer w.Close()
	if err := kafka.EnsureTopics(ctx, s.brokers, kafka.Security{}, kafka.Topic{Name: "demo.events.v1", Partitions: 1, ReplicationFactor: 1},
		kafka.Topic{Name: "demo.events.v1.dlq", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// The same check-in twice, and one for a stranger.
	if err := w.WriteMessages(ctx, checkedIn("ci-1", id), checkedIn("ci-1", id), checkedIn("ci-2", "nobody")); err != nil {
		t.Fatal(err)
	}
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	deadline := time.Now().Add(15 * time.Second)
	var eng *membersv1.GetEngagementResponse
	for time.Now().Before(deadline) {
		res, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{MemberId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if eng = res.Msg; len(eng.GetRecent()) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(eng.GetRecent()) != 1 || eng.GetRecent()[0].GetType() != "attended_event" || eng.GetScore() != 5 {
		t.Errorf("engagement after check-ins = %v, want one attended_event worth 5", eng)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: s.brokers, Topic: "demo.events.v1.dlq", Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dead, err := r.ReadMessage(readCtx)
	if err != nil {
		t.Fatalf("the stranger's check-in was not dead-lettered: %v", err)
	}
	if !strings.Contains(kafka.HeaderCarrier{Headers: &dead.Headers}.Get(kafka.HeaderDLQReason), "nobody") {
		t.Errorf("dead letter reason = %q", kafka.HeaderCarrier{Headers: &dead.Headers}.Get(kafka.HeaderDLQReason))
	}
}

// An unsubscribe link used in the communications service becomes a
// consent withdrawal in the ledger once, and never overrides a newer grant.
func TestUnsubscribesFromCommunicationsWithdrawConsent(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	join := validJoin()
	join.EmailConsent = true
	joined, err := s.client.JoinCommunity(ctx, connect.NewRequest(join))
	if err != nil {
		t.Fatal(err)
	}
	id := joined.Msg.GetMember().GetId()
	unsubscribed := func(eventID string, at time.Time) kafkago.Message {
		data, _ := proto.Marshal(&communicationsv1.Unsubscribed{MemberId: id, Community: "demo", Purpose: "email.announcements",
			OccurredAt: timestamppb.New(at), Source: "one-click"})
		return kafka.Event{ID: eventID, Type: events.TypeUnsubscribed, Source: "/communities/demo/communications", Time: at,
			ContentType: kafka.ContentTypeProtobuf, Data: data, Topic: "demo.communications.v1", Key: id}.Message()
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: s.brokers})
	defer w.Close()
	if err := kafka.EnsureTopics(ctx, s.brokers, kafka.Security{}, kafka.Topic{Name: "demo.communications.v1", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	first := time.Now()
	if err := w.WriteMessages(ctx, unsubscribed("u-1", first), unsubscribed("u-1", first)); err != nil {
		t.Fatal(err)
	}
	members := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	consent := func() (granted bool, ledger int) {
		res, err := members.GetConsents(ctx, connect.NewRequest(&membersv1.GetConsentsRequest{Community: "demo", MemberId: id}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Msg.GetCurrent() {
			if c.GetPurpose() == "email.announcements" {
				granted = c.GetGranted()
			}
		}
		return granted, len(res.Msg.GetLedger())
	}
	deadline := time.Now().Add(20 * time.Second)
	for granted, _ := consent(); granted; granted, _ = consent() {
		if time.Now().After(deadline) {
			t.Fatal("the unsubscribe never withdrew the consent")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The member opts in again; a late copy of the old unsubscribe changes nothing.
	if _, err := members.RecordConsent(ctx, connect.NewRequest(&membersv1.RecordConsentRequest{Community: "demo", MemberId: id,
		Purpose: "email.announcements", Granted: true, Source: "preferences", PolicyVersion: "v2"})); err != nil {
		t.Fatal(err)
	}
	_, before := consent()
	// A stale copy, then a fresh unsubscribe behind it on the partition:
	// once the fresh one applies, the stale one was read and skipped.
	if err := w.WriteMessages(ctx, unsubscribed("u-0", first.Add(-time.Minute)), unsubscribed("u-2", time.Now())); err != nil {
		t.Fatal(err)
	}
	for granted, _ := consent(); granted; granted, _ = consent() {
		if time.Now().After(deadline) {
			t.Fatal("the fresh unsubscribe never applied")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ledger := consent(); ledger != before+1 {
		t.Errorf("ledger has %d entries, want %d: only the fresh unsubscribe recorded", ledger, before+1)
	}
}

// A partner contribution made by a member counts once in their ledger; one
// made by nobody in particular counts for no one.
func TestPartnerContributionsBecomeActivities(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	joined, err := s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	id := joined.Msg.GetMember().GetId()
	contribution := func(contributionID, memberID string) kafkago.Message {
		e, err := partnerevents.Factory{}.ContributionRecorded(partnerdomain.Contribution{ID: contributionID, Community: "demo", PartnerID: "p1",
			Kind: partnerdomain.ContributionVolunteer, Date: partnerdomain.DateOf(time.Now()), VolunteerMinutes: 120, MemberID: memberID, RecordedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return e.Message()
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: s.brokers})
	defer w.Close()
	if err := kafka.EnsureTopics(ctx, s.brokers, kafka.Security{}, kafka.Topic{Name: "demo.partners.v1", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	first := contribution("c1", id)
	if err := w.WriteMessages(ctx, first, first, contribution("c2", ""), contribution("c3", id)); err != nil {
		t.Fatal(err)
	}
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	deadline := time.Now().Add(15 * time.Second)
	var eng *membersv1.GetEngagementResponse
	for time.Now().Before(deadline) {
		res, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{MemberId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if eng = res.Msg; len(eng.GetRecent()) >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(eng.GetRecent()) != 2 || eng.GetRecent()[0].GetType() != "partner_contribution" || eng.GetScore() != 10 {
		t.Errorf("engagement after contributions = %v, want two partner_contribution activities worth 5 each", eng)
	}
}
