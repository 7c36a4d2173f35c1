// Package devbroker starts the in-process Kafka-protocol broker (kfake)
// that the dev stack, the chaos harness's broker process, the benchmarks
// and the tests run on loopback. Kinship's code reaches it only through kafka-go over
// TCP, as it would a real cluster.
//
// One behaviour of kfake differs from a real broker in a way that can
// stall a consumer group for minutes: while a group rebalances, kfake
// restarts its wait for the missing members each time a member joins,
// where a real coordinator waits at most the rebalance timeout from the
// rebalance's start. kafka-go gives up a join 5 s after that timeout, and
// then joins again as a new member, which restarts kfake's wait once
// more; with a member that died (a killed replica) never rejoining, the
// joins can keep timing each other out, and the group fills with members
// that are gone. New caps the wait the broker takes from each join, so a
// rebalance completes without a dead member long before any client
// gives up.
package devbroker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinWait is how long the broker waits, after the last join, for the
// rest of a group before it completes a rebalance without them: well
// above a heartbeat interval (3 s), so live members rejoin in time, and
// far below the 35 s after which kafka-go abandons a join.
const JoinWait = 10 * time.Second

// New starts a cluster with opts whose rebalances wait at most joinWait
// after the last join for the other members (0 means JoinWait).
func New(joinWait time.Duration, opts ...kfake.Opt) (*kfake.Cluster, error) {
	if joinWait <= 0 {
		joinWait = JoinWait
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, err
	}
	limit := int32(joinWait / time.Millisecond)
	// The control function sees every JoinGroup before the broker does
	// and lowers the rebalance timeout the broker reads from it; it never
	// answers the request itself, so it stays installed.
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if join, ok := req.(*kmsg.JoinGroupRequest); ok && join.RebalanceTimeoutMillis > limit {
			join.RebalanceTimeoutMillis = limit
		}
		return nil, nil, false
	})
	return c, nil
}
