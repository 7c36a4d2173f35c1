package devstack

import (
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
)

// startKafka runs the in-process Kafka-protocol broker on 127.0.0.1:port,
// keeping topics, records and committed offsets in dir across restarts.
// Kinship's code reaches it only through kafka-go over TCP.
// Its rebalances wait at most devbroker.JoinWait after the last join for
// the rest of a group (see devbroker).
func startKafka(port int, dir string) (*kfake.Cluster, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("kafka data folder: %w", err)
	}
	c, err := devbroker.New(0,
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(dir),
		kfake.DefaultNumPartitions(4),
		kfake.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, fmt.Errorf("start kafka broker on 127.0.0.1:%d: %w", port, err)
	}
	return c, nil
}
