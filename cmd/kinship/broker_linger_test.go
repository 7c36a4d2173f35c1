//go:build !nodev

package main

import (
	"context"
	"net"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
)

// A member that vanishes while its JoinGroup waits for a rebalance is
// expired after its session timeout, so the partitions it was given go
// back to the members that are there. (Without the lingering listener the
// development broker keeps such a member for good; see lingerListener.)
const testLinger = 8 * time.Second

func TestABrokerExpiresAMemberThatVanishedMidJoin(t *testing.T) {
	const group, topic = "linger-group", "linger.things.v1"
	listen := func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		return lingerListener{Listener: ln, linger: testLinger}, nil
	}
	cluster, err := devbroker.New(0, kfake.NumBrokers(1), kfake.ListenFn(listen), kfake.DefaultNumPartitions(4),
		kfake.SeedTopics(4, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// A steady member, as the services' consumers are.
	steady := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, GroupID: group, GroupTopics: []string{topic},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second, HeartbeatInterval: time.Second, MaxWait: 100 * time.Millisecond})
	defer steady.Close()
	go func() {
		for ctx.Err() == nil {
			if _, err := steady.FetchMessage(ctx); err != nil {
				return
			}
		}
	}()
	waitMembers(ctx, t, brokers, group, 1, true)

	// A second member asks to join and vanishes before the answer.
	vanishing, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = group, "consumer", 6000, 6000
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	first, err := join.RequestWith(ctx, vanishing)
	if err != nil {
		t.Fatal(err)
	}
	join.MemberID = first.MemberID // the broker asks for its own member id first
	joinCtx, stopJoin := context.WithTimeout(ctx, 500*time.Millisecond)
	_, _ = join.RequestWith(joinCtx, vanishing) // waits for the rebalance; cut off
	stopJoin()
	vanishing.Close()
	waitMembers(ctx, t, brokers, group, 2, false)

	// The group must come back to the one member that is there.
	waitMembers(ctx, t, brokers, group, 1, true)
}

// waitMembers waits until group has want members (and is stable, if
// stable).
func waitMembers(ctx context.Context, t *testing.T, brokers []string, group string, want int, stable bool) {
	t.Helper()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 5 * time.Second}
	sawMore := false
	for {
		res, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(res.Groups) == 1 {
			g := res.Groups[0]
			if len(g.Members) > want {
				sawMore = true
			}
			if (!stable || g.GroupState == "Stable") && len(g.Members) == want {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("group %s: %s with %d members, want %d (saw more: %v)", group, g.GroupState, len(g.Members), want, sawMore)
			}
		} else if ctx.Err() != nil {
			t.Fatalf("describe group %s: %v", group, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
