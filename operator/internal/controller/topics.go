package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// desiredTopics are c's topics as the spec asks for them.
func desiredTopics(c *kinshipv1alpha1.Community) []external.TopicSpec {
	k := c.Spec.Kafka
	var out []external.TopicSpec
	for _, name := range resources.TopicNames(c) {
		out = append(out, external.TopicSpec{
			Name:              name,
			Partitions:        int(k.Partitions),
			ReplicationFactor: int(k.ReplicationFactor),
			RetentionMs:       k.RetentionOrDefault().Milliseconds(),
		})
	}
	return out
}

// reconcileTopics creates missing topics, adds partitions and sets
// retention.ms where they differ from the spec. Only reads reach Kafka
// when the topics are as specified.
func (r *CommunityReconciler) reconcileTopics(ctx context.Context, c *kinshipv1alpha1.Community, sec security, st *statusBuilder) {
	const cond = kinshipv1alpha1.ConditionTopicsReady
	if err := sec.kafkaErr(); err != nil {
		st.fail(cond, reasonFor(err, "KafkaSecretUnavailable"), err)
		return
	}
	brokers := sec.kafka
	warning := ""
	if k := c.Spec.Kafka; k.SASL != nil && k.SASL.Mechanism == kinshipv1alpha1.SASLPlain && !k.TLSEnabled() {
		warning = "; " + insecureSASL
		if cur := meta.FindStatusCondition(c.Status.Conditions, cond); cur == nil || !strings.Contains(cur.Message, insecureSASL) {
			r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, "InsecureKafkaSASL", "Reconcile", "%s", insecureSASL)
		}
	}
	want := desiredTopics(c)
	names := make([]string, len(want))
	for i, t := range want {
		names[i] = t.Name
	}
	have, err := r.Kafka.DescribeTopics(ctx, brokers, names)
	if err != nil {
		st.fail(cond, "KafkaUnreachable", err)
		return
	}
	var missing []external.TopicSpec
	for _, t := range want {
		if _, ok := have[t.Name]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		if err := r.Kafka.CreateTopics(ctx, brokers, missing); err != nil {
			st.fail(cond, "TopicCreateFailed", err)
			return
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "TopicsCreated", "Reconcile", "created %d Kafka topics", len(missing))
	}
	var mismatched []string
	for _, t := range want {
		cur, ok := have[t.Name]
		if !ok {
			continue
		}
		if cur.Partitions < t.Partitions {
			if err := r.Kafka.AddPartitions(ctx, brokers, t.Name, t.Partitions); err != nil {
				st.fail(cond, "PartitionsUpdateFailed", err)
				return
			}
			r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "PartitionsAdded", "Reconcile", "topic %s grown from %d to %d partitions", t.Name, cur.Partitions, t.Partitions)
		}
		if cur.RetentionMs != t.RetentionMs {
			if err := r.Kafka.SetRetention(ctx, brokers, t.Name, t.RetentionMs); err != nil {
				st.fail(cond, "RetentionUpdateFailed", err)
				return
			}
			r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "RetentionUpdated", "Reconcile", "topic %s retention.ms set to %d", t.Name, t.RetentionMs)
		}
		if cur.ReplicationFactor != t.ReplicationFactor {
			mismatched = append(mismatched, fmt.Sprintf("%s has %d", t.Name, cur.ReplicationFactor))
		}
	}
	if len(mismatched) > 0 {
		// Kafka cannot change a topic's replication factor in place.
		st.fail(cond, "ReplicationFactorMismatch", fmt.Errorf("replication factor %d wanted, but %s; reassign the partitions or recreate the topics",
			c.Spec.Kafka.ReplicationFactor, strings.Join(mismatched, ", ")))
		return
	}
	k := c.Spec.Kafka
	st.ok(cond, "TopicsReady", fmt.Sprintf("%d topics with at least %d partitions, replication factor %d and retention %s, reached over %s%s",
		len(want), k.Partitions, k.ReplicationFactor, k.RetentionOrDefault(), sec.kafka.Protocol(), warning))
}
