package workflows

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

func testTrigger() *trigger {
	return &trigger{
		clients: map[string]client.Client{},
		byTopic: map[string]string{memberevents.Topic("demo"): "demo"},
		logger:  slog.New(slog.DiscardHandler),
	}
}

func TestTriggerDeadLettersEventsItCannotUse(t *testing.T) {
	joinedElsewhere, err := memberevents.Factory{}.MemberJoined(domain.Member{ID: "m1", Community: "other", JoinedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	joinedElsewhere.Topic = memberevents.Topic("demo") // a payload on the wrong community's topic
	tests := map[string]kafka.Event{
		"undecodable payload": {ID: "e0", Type: memberevents.TypeMemberJoined, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff}, Topic: memberevents.Topic("demo")},
		"community mismatch":  joinedElsewhere,
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			err := testTrigger().handle(context.Background(), e)
			var perm *kafka.PermanentError
			if !errors.As(err, &perm) {
				t.Errorf("handle = %v, want a permanent error", err)
			}
		})
	}
}

func TestTriggerIgnoresOtherMemberEvents(t *testing.T) {
	e := kafka.Event{ID: "e1", Type: "kinship.members.v1.ProfileUpdated", Topic: memberevents.Topic("demo")}
	if err := testTrigger().handle(context.Background(), e); err != nil {
		t.Errorf("handle = %v, want nil", err)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{Communities: []string{"Demo!"}, MembersURL: "ftp://x", OnboardingReminderAfter: -time.Second}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"http address", "temporal address", "community \"Demo!\"", "kafka brokers", "members url", "communications url", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
