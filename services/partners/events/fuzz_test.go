package events

import (
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// FuzzDecodeContributionRecorded feeds the decoder the consumers of
// partners.v1 (the members service's activity feed) read records with —
// the partners service consumes no topic itself — arbitrary payloads and
// headers. A record is not a CloudEvent, or does not decode, with a
// reason (the consumer dead-letters it), or decodes into a
// ContributionRecorded naming its community, partner and contribution,
// with a valid time; it never panics.
//
//	go test -run XXX -fuzz FuzzDecodeContributionRecorded -fuzztime 60s ./services/partners/events/
func FuzzDecodeContributionRecorded(f *testing.F) {
	e, err := Factory{}.ContributionRecorded(domain.Contribution{ID: "c1", Community: "demo", PartnerID: "p1", Kind: domain.ContributionVolunteer,
		Date: domain.MustDate("2026-03-01"), VolunteerMinutes: 90, MemberID: "m1", RecordedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Data, "1.0", e.ID, e.Type, kafka.ContentTypeProtobuf, "traceparent", "00-abc")
	f.Add(e.Data, "1.0", e.ID, TypePartnerAdded, kafka.ContentTypeProtobuf, "", "")
	f.Add(e.Data, "1.0", "", e.Type, kafka.ContentTypeProtobuf, "", "")
	f.Add(e.Data, "1.0", e.ID, e.Type, "application/json", "", "")
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "1.0", "x", e.Type, kafka.ContentTypeProtobuf, "", "")
	bad, _ := proto.Marshal(&partnersv1.ContributionRecorded{Community: "demo", PartnerId: "p1", ContributionId: "c1",
		OccurredAt: &timestamppb.Timestamp{Seconds: 1 << 62}})
	f.Add(bad, "1.0", "y", e.Type, kafka.ContentTypeProtobuf, "", "")
	f.Add([]byte{}, "1.0", "z", e.Type, kafka.ContentTypeProtobuf, kafka.HeaderType, "other")
	f.Fuzz(func(t *testing.T, value []byte, spec, id, typ, contentType, extraKey, extraValue string) {
		msg := kafkago.Message{Topic: Topic("demo"), Key: []byte("p1"), Value: value, Headers: []kafkago.Header{
			{Key: kafka.HeaderSpecVersion, Value: []byte(spec)}, {Key: kafka.HeaderID, Value: []byte(id)}, {Key: kafka.HeaderType, Value: []byte(typ)},
			{Key: kafka.HeaderSource, Value: []byte(Source("demo"))}, {Key: kafka.HeaderContentType, Value: []byte(contentType)},
			{Key: extraKey, Value: []byte(extraValue)}}}
		parsed, err := kafka.ParseEvent(msg)
		if err != nil {
			if !errors.Is(err, kafka.ErrNotCloudEvent) || err.Error() == "" {
				t.Fatalf("a record that is no CloudEvent = %v, want ErrNotCloudEvent with a reason", err)
			}
			return
		}
		m, err := DecodeContributionRecorded(parsed)
		if err != nil {
			if m != nil || err.Error() == "" {
				t.Fatalf("refused record = %v, %v; want no message and a reason", m, err)
			}
			return
		}
		if parsed.Type != TypeContributionRecorded || m.GetCommunity() == "" || m.GetPartnerId() == "" || m.GetContributionId() == "" ||
			m.GetOccurredAt().CheckValid() != nil {
			t.Fatalf("decoded %v from a %s record", m, parsed.Type)
		}
	})
}
