// Package kafkatest starts an in-process Kafka-protocol broker (kfake) on
// loopback for tests. Code under test reaches it through kafka-go over TCP,
// exactly as it would a real cluster.
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
)

// Start runs a one-broker cluster for the test and returns its address.
func Start(t testing.TB) []string {
	t.Helper()
	c, err := devbroker.New(0, kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}
