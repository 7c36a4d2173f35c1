package devstack

import (
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// startKafka runs the in-process Kafka-protocol broker on 127.0.0.1:port,
// keeping topics, records and committed offsets in dir across restarts.
// Kinship's code reaches it only through kafka-go over TCP.
func startKafka(port int, dir string) (*kfake.Cluster, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("kafka data folder: %w", err)
	}
	c, err := kfake.NewCluster(
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
