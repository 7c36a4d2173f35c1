package events

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

func TestMessageSentCarriesIdsButNoPersonalData(t *testing.T) {
	m := domain.Message{ID: "msg1", Community: "demo", IdempotencyKey: "k", MemberID: "m1", To: "ada@example.org",
		Subject: "Welcome Ada", Text: "Hello Ada", SentAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	e, err := Factory{}.MessageSent(m)
	if err != nil {
		t.Fatal(err)
	}
	if e.Topic != "demo.communications.v1" || e.Key != "m1" || e.Type != TypeMessageSent {
		t.Errorf("envelope = %+v", e)
	}
	for _, secret := range []string{m.To, m.Subject, m.Text} {
		if bytes.Contains(e.Data, []byte(secret)) {
			t.Errorf("payload contains %q", secret)
		}
	}
	var got communicationsv1.MessageSent
	if err := proto.Unmarshal(e.Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetMessageId() != "msg1" || got.GetMemberId() != "m1" || !got.GetSentAt().AsTime().Equal(m.SentAt) {
		t.Errorf("payload = %v", &got)
	}
}
