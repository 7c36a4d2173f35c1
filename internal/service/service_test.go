package service

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
)

func TestCommonCheckReportsEveryProblemAtOnce(t *testing.T) {
	errs := Common{Name: "members", Communities: []string{"ok", "Not_A_Slug"}}.Check()
	got := errors.Join(errs...).Error()
	for _, want := range []string{"members: http address is empty", "members: database url is empty", "members: no kafka brokers",
		`members: community "Not_A_Slug"`} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
	if !strings.Contains(got, "members: auth issuer") {
		t.Errorf("errors %q do not report the token settings", got)
	}
	if strings.Contains(got, `community "ok"`) {
		t.Errorf("a valid community was refused: %q", got)
	}
	good := Common{Name: "members", HTTPAddr: ":8081", DatabaseURL: "members.db", KafkaBrokers: []string{"127.0.0.1:9092"},
		Communities: []string{"demo"}, Auth: auth.TokenConfig{Issuer: "https://id.example.org", Audience: "kinship"}}
	if errs := good.Check(); len(errs) != 0 {
		t.Errorf("complete settings refused: %v", errs)
	}
}

func TestCheckHTTPURL(t *testing.T) {
	for raw, ok := range map[string]bool{"http://members:8081": true, "https://x.example.org/base": true,
		"": false, "members:8081": false, "ftp://members": false, "http://": false} {
		err := CheckHTTPURL("events", "members url", raw)
		if (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", raw, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), `events: members url "`+raw+`"`) {
			t.Errorf("%q: error %q names neither the service nor the setting", raw, err)
		}
	}
}

func TestEveryRunsAtStartWhenAskedAndStopsWithTheContext(t *testing.T) {
	for _, atStart := range []bool{true, false} {
		var calls atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { every(ctx, time.Hour, atStart, func(context.Context) { calls.Add(1) }); close(done) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		<-done
		if want := map[bool]int32{true: 1, false: 0}[atStart]; calls.Load() != want {
			t.Errorf("atStart=%v: %d calls within the first hour, want %d", atStart, calls.Load(), want)
		}
	}
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	every(ctx, 20*time.Millisecond, false, func(context.Context) { calls.Add(1) })
	if calls.Load() < 2 {
		t.Errorf("%d calls in 200 ms at a 20 ms interval", calls.Load())
	}
}

func TestConsumeNamesTheFeedWhenItCannotStart(t *testing.T) {
	f := Feed{Name: "members: activity feed", Group: "kinship-members-activity",
		Topics: func(c string) []string { return []string{c + ".events.v1"} }, Handle: func(context.Context, kafka.Event) error { return nil }}
	err := consume(context.Background(), kafka.ConsumerConfig{}, []string{"demo"}, f)
	if err == nil || !strings.HasPrefix(err.Error(), "members: activity feed: ") {
		t.Fatalf("consuming without brokers: %v", err)
	}
}

func TestMembersKeysNeedCredentials(t *testing.T) {
	if _, err := MembersKeys("events", "http://members:8081", nil, nil); err == nil || !strings.Contains(err.Error(), "events: no workload credentials") {
		t.Fatalf("no credentials: %v", err)
	}
}
