package telemetry

import (
	"fmt"
	"slices"
)

// Kind is what sort of instrument a metric is.
type Kind string

// The kinds of instrument Kinship uses.
const (
	Counter       Kind = "counter"
	UpDownCounter Kind = "updowncounter"
	Gauge         Kind = "gauge"
	Histogram     Kind = "histogram"
)

// Where metrics come from besides Kinship's own code.
const (
	SourceKinship     = "kinship"
	SourceTemporalSDK = "Temporal Go SDK, through its OpenTelemetry metrics handler (the worker)"
	SourceOperator    = "controller-runtime, on the operator's /metrics"
	SourceKafka       = "Kafka Exporter (such as Strimzi's kafkaExporter)"
)

// Metric describes one metric: its OpenTelemetry name, instrument kind,
// unit, what it measures and the attributes it carries. Attributes are
// ids and enums only — never a name, an address or free text.
type Metric struct {
	Name        string
	Kind        Kind
	Unit        string
	Description string
	Attributes  []string
	// Source is SourceKinship for the instruments Kinship's code creates
	// (through this catalogue), or where a metric dashboards read comes
	// from otherwise.
	Source string
	// Where names the code that records it.
	Where string
	// Prometheus, for metrics that are Prometheus-native (not from
	// OpenTelemetry), is the series name as scraped.
	Prometheus string
	// Family marks a name that is a prefix: the code makes one metric per
	// entry of a list of its own (the insights service's metrics).
	Family bool
}

// The names of Kinship's own metrics. Create their instruments with
// Int64Counter, Float64Histogram and the other constructors below, which
// take unit, description and buckets from the catalogue.
const (
	MetricRPCServerDuration    = "rpc.server.call.duration"
	MetricRPCClientDuration    = "rpc.client.call.duration"
	MetricHTTPServerDuration   = "http.server.request.duration"
	MetricMessagesSent         = "messaging.client.sent.messages"
	MetricSendDuration         = "messaging.client.operation.duration"
	MetricMessagesConsumed     = "messaging.client.consumed.messages"
	MetricProcessDuration      = "messaging.process.duration"
	MetricConsumerLag          = "kinship.kafka.consumer.lag"
	MetricDeadLetters          = "kinship.kafka.dead_letters"
	MetricOutboxPending        = "kinship.outbox.pending"
	MetricOutboxOldestAge      = "kinship.outbox.oldest_age"
	MetricInboxDuplicates      = "kinship.inbox.duplicates"
	MetricDBConnections        = "db.client.connection.count"
	MetricDBConnectionsMax     = "db.client.connection.max"
	MetricDBPoolWaitTime       = "kinship.db.pool.wait_time"
	MetricDBTransactionTime    = "kinship.db.transaction.duration"
	MetricDeliveries           = "kinship.communications.deliveries"
	MetricInDoubt              = "kinship.communications.in_doubt"
	MetricJourneys             = "kinship.journeys"
	MetricInsightsFamily       = "kinship.insights."
	MetricTemporalWfCompleted  = "temporal_workflow_completed"
	MetricTemporalWfFailed     = "temporal_workflow_failed"
	MetricTemporalWfCanceled   = "temporal_workflow_canceled"
	MetricTemporalWfEndToEnd   = "temporal_workflow_endtoend_latency"
	MetricTemporalWfTaskQueue  = "temporal_workflow_task_schedule_to_start_latency"
	MetricTemporalActQueue     = "temporal_activity_schedule_to_start_latency"
	MetricTemporalActLatency   = "temporal_activity_execution_latency"
	MetricTemporalActFailed    = "temporal_activity_execution_failed"
	MetricTemporalRequest      = "temporal_request"
	MetricTemporalRequestError = "temporal_request_failure"
	MetricTemporalSlots        = "temporal_worker_task_slots_available"
)

// Attribute keys Kinship's metrics and spans share beyond the semantic
// conventions' own.
const (
	AttrCommunity   = "kinship.community"
	AttrChannel     = "kinship.channel"
	AttrOutcome     = "kinship.outcome"
	AttrInbox       = "kinship.inbox.consumer"
	AttrJourneyKind = "kinship.journey.kind"
	AttrJourneyStat = "kinship.journey.status"
)

// DurationBuckets are the histogram bounds, in seconds, of every duration
// Kinship records: from 5 ms to 5 minutes.
func DurationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300}
}

// Catalogue lists every metric Kinship's components emit and every other
// metric its dashboards and alerts read. docs/observability.md shows it
// (generated: go test ./internal/telemetry -run TestCatalogueDoc -update).
func Catalogue() []Metric {
	rpcAttrs := []string{"rpc.system.name", "rpc.method", "rpc.response.status_code", "error.type"}
	temporalWf := []string{"namespace", "task_queue", "workflow_type"}
	temporalAct := []string{"namespace", "task_queue", "activity_type", "workflow_type"}
	return []Metric{
		{Name: MetricRPCServerDuration, Kind: Histogram, Unit: "s", Source: SourceKinship, Where: "internal/rpc (every Connect handler)",
			Description: "Duration of each API call a component served, by procedure and Connect code (ok for success)", Attributes: rpcAttrs},
		{Name: MetricRPCClientDuration, Kind: Histogram, Unit: "s", Source: SourceKinship, Where: "internal/rpc (every Connect client)",
			Description: "Duration of each call a component made to another Kinship API, by procedure and code", Attributes: rpcAttrs},
		{Name: MetricHTTPServerDuration, Kind: Histogram, Unit: "s", Source: SourceKinship, Where: "internal/serve (every HTTP route, Connect included)",
			Description: "Duration of each HTTP request, by route pattern and status", Attributes: []string{"http.request.method", "http.route", "http.response.status_code"}},
		{Name: MetricMessagesSent, Kind: Counter, Unit: "{message}", Source: SourceKinship, Where: "internal/outbox (the relay)",
			Description: "Events the outbox relay sent to Kafka, failures marked by error.type", Attributes: []string{"messaging.system", "messaging.operation.name", "messaging.destination.name", "error.type"}},
		{Name: MetricSendDuration, Kind: Histogram, Unit: "s", Source: SourceKinship, Where: "internal/outbox (the relay)",
			Description: "Duration of each batch the relay wrote to Kafka", Attributes: []string{"messaging.system", "messaging.operation.name", "error.type"}},
		{Name: MetricMessagesConsumed, Kind: Counter, Unit: "{message}", Source: SourceKinship, Where: "internal/kafka (every consumer)",
			Description: "Records a consumer fetched", Attributes: []string{"messaging.system", "messaging.consumer.group.name", "messaging.destination.name"}},
		{Name: MetricProcessDuration, Kind: Histogram, Unit: "s", Source: SourceKinship, Where: "internal/kafka (every consumer)",
			Description: "Duration of handling one record, retries included; error.type says when it was dead-lettered", Attributes: []string{"messaging.system", "messaging.operation.name", "messaging.consumer.group.name", "messaging.destination.name", "error.type"}},
		{Name: MetricConsumerLag, Kind: Gauge, Unit: "{message}", Source: SourceKinship, Where: "internal/kafka (every consumer, asked of the broker at each collection)",
			Description: "Records on a partition the consumer group has not committed yet", Attributes: []string{"messaging.consumer.group.name", "messaging.destination.name", "messaging.destination.partition.id"}},
		{Name: MetricDeadLetters, Kind: Counter, Unit: "{message}", Source: SourceKinship, Where: "internal/kafka (every consumer)",
			Description: "Records sent to the dead-letter topic: undecodable (not a CloudEvent) or permanent (the handler gave up)", Attributes: []string{"messaging.consumer.group.name", "messaging.destination.name", "error.type"}},
		{Name: MetricOutboxPending, Kind: Gauge, Unit: "{event}", Source: SourceKinship, Where: "internal/outbox (read from the table at each collection)",
			Description: "Events committed but not yet published"},
		{Name: MetricOutboxOldestAge, Kind: Gauge, Unit: "s", Source: SourceKinship, Where: "internal/outbox (read from the table at each collection)",
			Description: "Age of the oldest event not yet published; 0 when none waits"},
		{Name: MetricInboxDuplicates, Kind: Counter, Unit: "{message}", Source: SourceKinship, Where: "internal/inbox",
			Description: "Redelivered events a consumer dropped because it had handled them already", Attributes: []string{AttrInbox}},
		{Name: MetricDBConnections, Kind: UpDownCounter, Unit: "{connection}", Source: SourceKinship, Where: "internal/db",
			Description: "Connections of the component's database pool, by state (idle, used)", Attributes: []string{"db.client.connection.pool.name", "db.client.connection.state"}},
		{Name: MetricDBConnectionsMax, Kind: UpDownCounter, Unit: "{connection}", Source: SourceKinship, Where: "internal/db",
			Description: "The most connections the pool may open (0: unbounded)", Attributes: []string{"db.client.connection.pool.name"}},
		{Name: MetricDBPoolWaitTime, Kind: Counter, Unit: "s", Source: SourceKinship, Where: "internal/db",
			Description: "Time callers spent waiting for a free connection, in total", Attributes: []string{"db.client.connection.pool.name"}},
		{Name: MetricDBTransactionTime, Kind: Histogram, Unit: "s", Source: SourceKinship, Where: "internal/db (every InTx)",
			Description: "Duration of each transaction, waiting for SQLite's writer included, by outcome (commit, rollback)", Attributes: []string{"db.system.name", "db.client.connection.pool.name", AttrOutcome}},
		{Name: MetricDeliveries, Kind: Counter, Unit: "{message}", Source: SourceKinship, Where: "services/communications (the deliverer)",
			Description: "Deliveries by channel (email, webhook) and outcome (sent, retry, failed, suppressed, deferred, in_doubt)", Attributes: []string{AttrChannel, AttrOutcome}},
		{Name: MetricInDoubt, Kind: Counter, Unit: "{message}", Source: SourceKinship, Where: "services/communications (the deliverer)",
			Description: "E-mails found in doubt after a crash (handed to the mail server, reply not recorded), by channel and outcome (resent, not_resent); see docs/reliability.md", Attributes: []string{AttrChannel, AttrOutcome}},
		{Name: MetricJourneys, Kind: Gauge, Unit: "{journey}", Source: SourceKinship, Where: "workflows (asked of Temporal's visibility at each collection)",
			Description: "Journeys (workflows) by community, kind and status (Running, Completed, Failed, Canceled, Terminated, TimedOut, ContinuedAsNew)", Attributes: []string{AttrCommunity, AttrJourneyKind, AttrJourneyStat}},
		{Name: MetricInsightsFamily, Family: true, Kind: Gauge, Unit: "varies", Source: SourceKinship, Where: "services/insights (one gauge per insights metric; see docs/insights.md)",
			Description: "The community's own numbers — members, activity, events, messages, partners, goal progress — by community and breakdown", Attributes: []string{"community", "goal", "status", "and the metric's breakdown"}},

		{Name: MetricTemporalWfCompleted, Kind: Counter, Source: SourceTemporalSDK, Description: "Workflows that completed", Attributes: temporalWf},
		{Name: MetricTemporalWfFailed, Kind: Counter, Source: SourceTemporalSDK, Description: "Workflows that failed", Attributes: temporalWf},
		{Name: MetricTemporalWfCanceled, Kind: Counter, Source: SourceTemporalSDK, Description: "Workflows that were cancelled", Attributes: temporalWf},
		{Name: MetricTemporalWfEndToEnd, Kind: Histogram, Unit: "s", Source: SourceTemporalSDK, Description: "Workflow duration from start to close", Attributes: temporalWf},
		{Name: MetricTemporalWfTaskQueue, Kind: Histogram, Unit: "s", Source: SourceTemporalSDK, Description: "How long workflow tasks waited on the task queue (its backlog)", Attributes: temporalWf},
		{Name: MetricTemporalActQueue, Kind: Histogram, Unit: "s", Source: SourceTemporalSDK, Description: "How long activity tasks waited on the task queue (its backlog)", Attributes: temporalAct},
		{Name: MetricTemporalActLatency, Kind: Histogram, Unit: "s", Source: SourceTemporalSDK, Description: "Duration of each activity attempt", Attributes: temporalAct},
		{Name: MetricTemporalActFailed, Kind: Counter, Source: SourceTemporalSDK, Description: "Activity attempts that failed", Attributes: temporalAct},
		{Name: MetricTemporalRequest, Kind: Counter, Source: SourceTemporalSDK, Description: "Requests the worker and clients made to Temporal", Attributes: []string{"namespace", "operation"}},
		{Name: MetricTemporalRequestError, Kind: Counter, Source: SourceTemporalSDK, Description: "Requests to Temporal that failed", Attributes: []string{"namespace", "operation", "status_code"}},
		{Name: MetricTemporalSlots, Kind: Gauge, Source: SourceTemporalSDK, Description: "Free task slots of the worker", Attributes: []string{"namespace", "task_queue", "worker_type"}},

		{Name: "controller_runtime_reconcile_total", Prometheus: "controller_runtime_reconcile_total", Kind: Counter, Source: SourceOperator, Description: "Reconciles by result", Attributes: []string{"controller", "result"}},
		{Name: "controller_runtime_reconcile_errors_total", Prometheus: "controller_runtime_reconcile_errors_total", Kind: Counter, Source: SourceOperator, Description: "Reconciles that returned an error", Attributes: []string{"controller"}},
		{Name: "controller_runtime_reconcile_time_seconds", Prometheus: "controller_runtime_reconcile_time_seconds", Kind: Histogram, Unit: "s", Source: SourceOperator, Description: "Reconcile duration", Attributes: []string{"controller"}},
		{Name: "controller_runtime_active_workers", Prometheus: "controller_runtime_active_workers", Kind: Gauge, Source: SourceOperator, Description: "Reconcilers at work", Attributes: []string{"controller"}},
		{Name: "workqueue_depth", Prometheus: "workqueue_depth", Kind: Gauge, Source: SourceOperator, Description: "Communities waiting to be reconciled", Attributes: []string{"name"}},
		{Name: "leader_election_master_status", Prometheus: "leader_election_master_status", Kind: Gauge, Source: SourceOperator, Description: "1 on the replica that leads", Attributes: []string{"name"}},
		{Name: "rest_client_requests_total", Prometheus: "rest_client_requests_total", Kind: Counter, Source: SourceOperator, Description: "Kubernetes API requests by code", Attributes: []string{"code", "method"}},
		{Name: "kafka_consumergroup_lag", Prometheus: "kafka_consumergroup_lag", Kind: Gauge, Source: SourceKafka, Description: "Consumer group lag as the cluster sees it", Attributes: []string{"consumergroup", "topic", "partition"}},
	}
}

// Lookup returns the catalogue entry of name.
func Lookup(name string) (Metric, bool) {
	all := Catalogue()
	i := slices.IndexFunc(all, func(m Metric) bool { return m.Name == name })
	if i < 0 {
		return Metric{}, false
	}
	return all[i], true
}

// own returns the catalogue entry of one of Kinship's own instruments.
func own(name string) (Metric, error) {
	m, ok := Lookup(name)
	if !ok || m.Source != SourceKinship {
		return Metric{}, fmt.Errorf("metric %q is not in the telemetry catalogue", name)
	}
	return m, nil
}
