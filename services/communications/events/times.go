package events

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// checkTimes refuses a payload holding a timestamp outside the years
// 0001–9999: stored, it would fail in PostgreSQL on every retry and hold
// the partition.
func checkTimes(m proto.Message) error {
	var err error
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		if ts, ok := msg.Interface().(*timestamppb.Timestamp); ok {
			if cerr := ts.CheckValid(); cerr != nil && err == nil {
				err = fmt.Errorf("%s: %w", msg.Descriptor().FullName(), cerr)
			}
			return
		}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return err == nil
		})
	}
	walk(m.ProtoReflect())
	return err
}
