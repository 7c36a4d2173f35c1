package devbroker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
)

// A member that died holding a long rebalance timeout must not hold a
// rebalance for longer than the broker's join wait: a consumer joining
// the group after it gets its records within seconds, where kfake alone
// waits the dead member's whole timeout (60 s here) — and restarts that
// wait on every join, the start of the stalls CI met in the chaos run.
func TestARebalanceCompletesWithoutADeadMemberWithinTheJoinWait(t *testing.T) {
	c, err := devbroker.New(2*time.Second, kfake.NumBrokers(1), kfake.DefaultNumPartitions(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	const topic, group = "orders", "orders-readers"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	w := &kafkago.Writer{Addr: kafkago.TCP(addr), Topic: topic, AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond}
	defer w.Close()
	for {
		err := w.WriteMessages(ctx, kafkago.Message{Value: []byte("first")})
		if err == nil {
			break
		}
		if !errors.Is(err, kafkago.UnknownTopicOrPartition) && !errors.Is(err, kafkago.LeaderNotAvailable) {
			t.Fatalf("write: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	joinAndDie(ctx, t, addr, group, topic)

	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, GroupID: group, Topic: topic,
		StartOffset: kafkago.FirstOffset, HeartbeatInterval: time.Second, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	fetchCtx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	m, err := r.FetchMessage(fetchCtx)
	if err != nil {
		t.Fatalf("a consumer joining after a dead member got no record within 20 s: %v", err)
	}
	if string(m.Value) != "first" {
		t.Fatalf("record %q, want %q", m.Value, "first")
	}
}

// joinAndDie makes a member of group that joins and syncs with a 60 s
// rebalance and session timeout, then never heartbeats or rejoins: a
// replica killed while it held its partitions.
func joinAndDie(ctx context.Context, t *testing.T, addr, group, topic string) {
	t.Helper()
	client := &kafkago.Client{Addr: kafkago.TCP(addr), Timeout: 10 * time.Second}
	req := &kafkago.JoinGroupRequest{GroupID: group, SessionTimeout: time.Minute, RebalanceTimeout: time.Minute,
		ProtocolType: "consumer", Protocols: []kafkago.GroupProtocol{{Name: "range", Metadata: kafkago.GroupProtocolSubscription{Topics: []string{topic}}}}}
	joined, err := client.JoinGroup(ctx, req)
	if err == nil && errors.Is(joined.Error, kafkago.MemberIDRequired) {
		req.MemberID = joined.MemberID
		joined, err = client.JoinGroup(ctx, req)
	}
	if err == nil {
		err = joined.Error
	}
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	synced, err := client.SyncGroup(ctx, &kafkago.SyncGroupRequest{GroupID: group, GenerationID: joined.GenerationID, MemberID: joined.MemberID,
		ProtocolType: "consumer", ProtocolName: joined.ProtocolName, Assignments: []kafkago.SyncGroupRequestAssignment{{MemberID: joined.MemberID,
			Assignment: kafkago.GroupProtocolAssignment{AssignedPartitions: map[string][]int{topic: {0}}}}}})
	if err == nil {
		err = synced.Error
	}
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
}
