package external

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

const retentionMsKey = "retention.ms"

// KafkaAdmin administers topics with kafka-go's Client, over TLS and with
// SASL when the cluster asks for them. Each call uses a transport of its
// own: kafka-go's transport answers metadata requests from a cache
// refreshed every few seconds, which would hide a topic that was just
// created, grown or deleted.
type KafkaAdmin struct {
	timeout time.Duration
}

var _ Kafka = (*KafkaAdmin)(nil)

// NewKafkaAdmin returns an admin whose requests each take at most timeout.
func NewKafkaAdmin(timeout time.Duration) *KafkaAdmin {
	return &KafkaAdmin{timeout: timeout}
}

// client returns a client with a fresh transport whose metadata covers
// topics, and the function that closes its connections.
func (k *KafkaAdmin) client(cluster KafkaCluster, topics []string) (*kafka.Client, func(), error) {
	t := &kafka.Transport{
		DialTimeout:    k.timeout, // includes the TLS handshake and SASL
		ClientID:       "kinship-operator",
		MetadataTopics: topics,
	}
	if cluster.TLS != nil {
		cfg, err := cluster.TLS.Config()
		if err != nil {
			return nil, nil, fmt.Errorf("kafka TLS: %w", err)
		}
		t.TLS = cfg // kafka-go takes an empty ServerName from each broker's host
	}
	if cluster.SASL != nil {
		mech, err := cluster.SASL.mechanism()
		if err != nil {
			return nil, nil, fmt.Errorf("kafka: %w", err)
		}
		t.SASL = mech
	}
	return &kafka.Client{Addr: kafka.TCP(cluster.Brokers...), Timeout: k.timeout, Transport: t}, t.CloseIdleConnections, nil
}

// DescribeTopics reads the topics' partitions and replication from the
// metadata and their retention.ms from the topic configs.
func (k *KafkaAdmin) DescribeTopics(ctx context.Context, cluster KafkaCluster, names []string) (map[string]TopicState, error) {
	c, done, err := k.client(cluster, names)
	if err != nil {
		return nil, err
	}
	defer done()
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, fmt.Errorf("read topic metadata: %w", cluster.explain(err))
	}
	out := map[string]TopicState{}
	var present []string
	for _, t := range meta.Topics {
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("read metadata of topic %s: %w", t.Name, t.Error)
		}
		st := TopicState{Partitions: len(t.Partitions), RetentionMs: -1}
		if len(t.Partitions) > 0 {
			st.ReplicationFactor = len(t.Partitions[0].Replicas)
		}
		out[t.Name] = st
		present = append(present, t.Name)
	}
	if len(present) == 0 {
		return out, nil
	}
	req := &kafka.DescribeConfigsRequest{}
	for _, name := range present {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: name, ConfigNames: []string{retentionMsKey},
		})
	}
	cfgs, err := c.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("read topic configs: %w", cluster.explain(err))
	}
	for _, r := range cfgs.Resources {
		if r.Error != nil {
			return nil, fmt.Errorf("read config of topic %s: %w", r.ResourceName, r.Error)
		}
		st, ok := out[r.ResourceName]
		if !ok {
			continue
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != retentionMsKey {
				continue
			}
			ms, err := strconv.ParseInt(e.ConfigValue, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("topic %s has retention.ms %q: %w", r.ResourceName, e.ConfigValue, err)
			}
			st.RetentionMs = ms
		}
		out[r.ResourceName] = st
	}
	return out, nil
}

// CreateTopics creates the topics with their retention; topics that exist
// already are left as they are.
func (k *KafkaAdmin) CreateTopics(ctx context.Context, cluster KafkaCluster, topics []TopicSpec) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             t.Name,
			NumPartitions:     t.Partitions,
			ReplicationFactor: t.ReplicationFactor,
			ConfigEntries:     []kafka.ConfigEntry{{ConfigName: retentionMsKey, ConfigValue: strconv.FormatInt(t.RetentionMs, 10)}},
		})
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	c, done, err := k.client(cluster, names)
	if err != nil {
		return err
	}
	defer done()
	res, err := c.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", cluster.explain(err))
	}
	var errs []error
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", name, terr))
		}
	}
	return errors.Join(errs...)
}

// AddPartitions grows topic to total partitions.
func (k *KafkaAdmin) AddPartitions(ctx context.Context, cluster KafkaCluster, topic string, total int) error {
	c, done, err := k.client(cluster, []string{topic})
	if err != nil {
		return err
	}
	defer done()
	res, err := c.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: int32(total)}},
	})
	if err != nil {
		return fmt.Errorf("add partitions to topic %s: %w", topic, cluster.explain(err))
	}
	if perr := res.Errors[topic]; perr != nil {
		return fmt.Errorf("add partitions to topic %s: %w", topic, perr)
	}
	return nil
}

// SetRetention sets the topic's retention.ms, leaving its other configs.
func (k *KafkaAdmin) SetRetention(ctx context.Context, cluster KafkaCluster, topic string, retentionMs int64) error {
	c, done, err := k.client(cluster, []string{topic})
	if err != nil {
		return err
	}
	defer done()
	res, err := c.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: topic,
			Configs: []kafka.IncrementalAlterConfigsRequestConfig{{
				Name: retentionMsKey, Value: strconv.FormatInt(retentionMs, 10), ConfigOperation: kafka.ConfigOperationSet,
			}},
		}},
	})
	if err != nil {
		return fmt.Errorf("set retention of topic %s: %w", topic, cluster.explain(err))
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			return fmt.Errorf("set retention of topic %s: %w", topic, r.Error)
		}
	}
	return nil
}

// DeleteTopics deletes the topics; missing ones are ignored.
func (k *KafkaAdmin) DeleteTopics(ctx context.Context, cluster KafkaCluster, names []string) error {
	c, done, err := k.client(cluster, names)
	if err != nil {
		return err
	}
	defer done()
	res, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
	if err != nil {
		return fmt.Errorf("delete topics: %w", cluster.explain(err))
	}
	var errs []error
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("delete topic %s: %w", name, terr))
		}
	}
	return errors.Join(errs...)
}
