package external

import (
	"context"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
)

func TestKafkaAdminAgainstABroker(t *testing.T) {
	exerciseTopics(t, KafkaCluster{Brokers: kafkatest.Start(t)})
}

// exerciseTopics takes two topics through their life on cluster.
func exerciseTopics(t *testing.T, cluster KafkaCluster) {
	t.Helper()
	k := NewKafkaAdmin(5 * time.Second)
	ctx := context.Background()
	names := []string{"alpha.members.v1", "alpha.members.v1.dlq"}

	got, err := k.DescribeTopics(ctx, cluster, names)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("describing missing topics must not create them: %v", got)
	}

	specs := []TopicSpec{
		{Name: names[0], Partitions: 3, ReplicationFactor: 1, RetentionMs: 3_600_000},
		{Name: names[1], Partitions: 3, ReplicationFactor: 1, RetentionMs: 3_600_000},
	}
	if err := k.CreateTopics(ctx, cluster, specs); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateTopics(ctx, cluster, specs); err != nil {
		t.Fatalf("creating existing topics again: %v", err)
	}
	got, err = k.DescribeTopics(ctx, cluster, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if got[n] != (TopicState{Partitions: 3, ReplicationFactor: 1, RetentionMs: 3_600_000}) {
			t.Errorf("%s: got %+v after creation", n, got[n])
		}
	}

	if err := k.AddPartitions(ctx, cluster, names[0], 5); err != nil {
		t.Fatal(err)
	}
	if err := k.SetRetention(ctx, cluster, names[0], 7_200_000); err != nil {
		t.Fatal(err)
	}
	got, err = k.DescribeTopics(ctx, cluster, names)
	if err != nil {
		t.Fatal(err)
	}
	if got[names[0]] != (TopicState{Partitions: 5, ReplicationFactor: 1, RetentionMs: 7_200_000}) {
		t.Errorf("after growing and changing retention: %+v", got[names[0]])
	}
	if got[names[1]] != (TopicState{Partitions: 3, ReplicationFactor: 1, RetentionMs: 3_600_000}) {
		t.Errorf("the other topic must be untouched: %+v", got[names[1]])
	}

	if err := k.DeleteTopics(ctx, cluster, names); err != nil {
		t.Fatal(err)
	}
	if err := k.DeleteTopics(ctx, cluster, names); err != nil {
		t.Fatalf("deleting missing topics: %v", err)
	}
	got, err = k.DescribeTopics(ctx, cluster, names)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("topics left after deletion: %v", got)
	}
}

func TestKafkaAdminReportsAnUnreachableCluster(t *testing.T) {
	k := NewKafkaAdmin(time.Second)
	start := time.Now()
	_, err := k.DescribeTopics(context.Background(), KafkaCluster{Brokers: []string{"127.0.0.1:1"}}, []string{"x.members.v1"})
	if err == nil {
		t.Fatal("describing topics on a closed port must fail")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing took %s; calls must be bounded by the timeout", d)
	}
}
