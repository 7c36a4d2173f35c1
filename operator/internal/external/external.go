// Package external reaches the systems outside Kubernetes that a
// Community's instance needs: Kafka (topics), Temporal (a namespace) and
// PostgreSQL (a database and a role), and the instance's own insights
// service (its goals). The controller depends on the small interfaces
// below and in insights.go; this package implements them with kafka-go,
// the Temporal SDK, pgx and Connect, and package externaltest with
// in-memory fakes.
package external

import (
	"context"
	"time"
)

// TopicSpec is a topic as it should be.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	// RetentionMs is the topic's retention.ms.
	RetentionMs int64
}

// TopicState is a topic as the cluster has it.
type TopicState struct {
	Partitions        int
	ReplicationFactor int
	// RetentionMs is the topic's retention.ms; -1 when the broker did not
	// report it.
	RetentionMs int64
}

// Kafka administers topics on a cluster.
type Kafka interface {
	// DescribeTopics returns the named topics that exist; missing topics
	// are absent from the map.
	DescribeTopics(ctx context.Context, cluster KafkaCluster, names []string) (map[string]TopicState, error)
	CreateTopics(ctx context.Context, cluster KafkaCluster, topics []TopicSpec) error
	// AddPartitions grows a topic to total partitions.
	AddPartitions(ctx context.Context, cluster KafkaCluster, topic string, total int) error
	SetRetention(ctx context.Context, cluster KafkaCluster, topic string, retentionMs int64) error
	// DeleteTopics deletes the named topics; missing ones are ignored.
	DeleteTopics(ctx context.Context, cluster KafkaCluster, names []string) error
}

// NamespaceState is a Temporal namespace as the cluster has it.
type NamespaceState struct {
	Exists    bool
	Retention time.Duration
}

// Temporal administers namespaces on a cluster.
type Temporal interface {
	DescribeNamespace(ctx context.Context, cluster TemporalCluster, name string) (NamespaceState, error)
	// RegisterNamespace registers a namespace; one that exists already is
	// not an error.
	RegisterNamespace(ctx context.Context, cluster TemporalCluster, name string, retention time.Duration) error
	SetRetention(ctx context.Context, cluster TemporalCluster, name string, retention time.Duration) error
	// DeleteNamespace deletes a namespace; a missing one is not an error.
	DeleteNamespace(ctx context.Context, cluster TemporalCluster, name string) error
}

// DatabaseState says what exists of a community's database.
type DatabaseState struct {
	DatabaseExists bool
	RoleExists     bool
}

// Postgres administers databases and roles with an admin connection URL.
type Postgres interface {
	Describe(ctx context.Context, adminURL, database, role string) (DatabaseState, error)
	// CreateRole creates a login role with password.
	CreateRole(ctx context.Context, adminURL, role, password string) error
	SetPassword(ctx context.Context, adminURL, role, password string) error
	// CreateDatabase creates a database owned by owner that only owner
	// (and superusers) may connect to.
	CreateDatabase(ctx context.Context, adminURL, database, owner string) error
	// Drop removes the database (disconnecting its sessions) and the role;
	// missing ones are ignored.
	Drop(ctx context.Context, adminURL, database, role string) error
}
