package events

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/events/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// FuzzErasureConsumer feeds the members.v1 erasure consumer arbitrary
// records — payload and headers — as the broker hands them over. A record
// is either not a CloudEvent (the consumer dead-letters it with the
// parse error as its reason), skipped (another members.v1 type), handled
// (a well-formed MemberErased of a community served here, naming a
// well-formed member id: exactly one erasure), or refused as a permanent
// failure with a reason (dead-lettered); it never panics and never erases
// on a record it refused.
//
//	go test -run XXX -fuzz FuzzErasureConsumer -fuzztime 60s ./services/events/events/
func FuzzErasureConsumer(f *testing.F) {
	payload := func(m *membersv1.MemberErased) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	good := payload(&membersv1.MemberErased{MemberId: "m1", Community: "demo", ErasedAt: timestamppb.Now()})
	f.Add(good, "1.0", "ev-1", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "2026-12-01T10:00:00Z", "traceparent", "00-abc")
	f.Add(good, "1.0", "ev-2", memberevents.TypeMemberJoined, kafka.ContentTypeProtobuf, "", "", "")
	f.Add(good, "0.3", "ev-3", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "", "", "")
	f.Add(good, "1.0", "", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "", "", "")
	f.Add(good, "1.0", "ev-4", memberevents.TypeMemberErased, "application/json", "", "", "")
	f.Add(good, "1.0", "ev-5", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "yesterday", "", "")
	f.Add([]byte{0xff, 0xff, 0xff}, "1.0", "ev-6", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "", "", "")
	f.Add([]byte(`{"memberId":"m1"}`), "1.0", "ev-7", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "", "ce_type", "x")
	f.Add(payload(&membersv1.MemberErased{MemberId: "m1", Community: "elsewhere"}), "1.0", "ev-8", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "", "", "")
	f.Add(payload(&membersv1.MemberErased{MemberId: "../../etc", Community: "demo"}), "1.0", "ev-9", memberevents.TypeMemberErased, kafka.ContentTypeProtobuf, "", "", "")
	f.Add(payload(&membersv1.MemberErased{MemberId: strings.Repeat("m", 10_000), Community: "demo"}), "1.0", "ev-10", memberevents.TypeMemberErased,
		kafka.ContentTypeProtobuf, "", "", "")
	f.Fuzz(func(t *testing.T, value []byte, spec, id, typ, contentType, at, extraKey, extraValue string) {
		headers := []kafkago.Header{{Key: kafka.HeaderSpecVersion, Value: []byte(spec)}, {Key: kafka.HeaderID, Value: []byte(id)},
			{Key: kafka.HeaderType, Value: []byte(typ)}, {Key: kafka.HeaderSource, Value: []byte(memberevents.Source("demo"))},
			{Key: kafka.HeaderContentType, Value: []byte(contentType)}, {Key: extraKey, Value: []byte(extraValue)}}
		if at != "" {
			headers = append(headers, kafkago.Header{Key: kafka.HeaderTime, Value: []byte(at)})
		}
		e, err := kafka.ParseEvent(kafkago.Message{Topic: memberevents.Topic("demo"), Key: []byte("m1"), Value: value, Headers: headers})
		if err != nil {
			if !errors.Is(err, kafka.ErrNotCloudEvent) || err.Error() == "" {
				t.Fatalf("a record that is no CloudEvent = %v, want ErrNotCloudEvent with a reason", err)
			}
			return
		}
		rec := &eraser{}
		err = NewErasure(rec, []string{"demo"}, slog.New(slog.DiscardHandler)).Handle(context.Background(), e)
		var perm *kafka.PermanentError
		switch {
		case err != nil:
			if !errors.As(err, &perm) || err.Error() == "" || len(rec.calls) != 0 {
				t.Fatalf("refused record = %v after %d erasures, want a permanent failure with a reason and none", err, len(rec.calls))
			}
		case e.Type != memberevents.TypeMemberErased:
			if len(rec.calls) != 0 {
				t.Fatalf("a %s record erased %v", e.Type, rec.calls)
			}
		default:
			var m membersv1.MemberErased
			if derr := proto.Unmarshal(e.Data, &m); derr != nil || len(rec.calls) != 1 || m.GetCommunity() != "demo" {
				t.Fatalf("handled record erased %v (payload %v)", rec.calls, derr)
			}
			if _, ferr := domain.ValidateID("member_id", m.GetMemberId()); ferr != nil {
				t.Fatalf("erased malformed member id %q", m.GetMemberId())
			}
		}
	})
}
