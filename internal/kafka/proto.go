package kafka

import (
	"fmt"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
)

// NewProto returns e, which names its type, source, subject, time, topic
// and key, with a fresh time-ordered id (UUIDv7) and payload encoded as
// its protobuf data.
func NewProto(e Event, payload proto.Message) (Event, error) {
	data, err := proto.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("new id for %s: %w", e.Type, err)
	}
	e.ID, e.ContentType, e.Data = id.String(), ContentTypeProtobuf, data
	return e, nil
}

// Decode reads e's protobuf payload into into, after checking that e is
// of type typ and carries protobuf.
func Decode(e Event, typ string, into proto.Message) error {
	if e.Type != typ {
		return fmt.Errorf("event %s is %s, not %s", e.ID, e.Type, typ)
	}
	if e.ContentType != ContentTypeProtobuf {
		return fmt.Errorf("event %s has content type %q, want %s", e.ID, e.ContentType, ContentTypeProtobuf)
	}
	if err := proto.Unmarshal(e.Data, into); err != nil {
		return fmt.Errorf("decode %s %s: %w", typ, e.ID, err)
	}
	return nil
}
