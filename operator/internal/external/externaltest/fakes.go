// Package externaltest provides in-memory stand-ins for Kafka, Temporal and
// PostgreSQL that count the calls made to them, keyed by the address the
// caller names, so that tests sharing one fake stay apart. An address can
// be made unreachable to exercise failure handling.
package externaltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kinshiphq/kinship/operator/internal/external"
)

// Calls counts the calls made to one address.
type Calls struct {
	Reads  int
	Writes int
}

type unreachable map[string]bool

func (u unreachable) check(addr string) error {
	if u[addr] {
		return fmt.Errorf("dial tcp %s: connect: connection refused", addr)
	}
	return nil
}

// Kafka is an in-memory Kafka admin.
type Kafka struct {
	mu       sync.Mutex
	clusters map[string]*kafkaCluster
	down     unreachable
}

type kafkaCluster struct {
	topics map[string]external.TopicState
	calls  Calls
	last   external.KafkaCluster // as the last call named it
}

var _ external.Kafka = (*Kafka)(nil)

// NewKafka returns an empty fake.
func NewKafka() *Kafka { return &Kafka{clusters: map[string]*kafkaCluster{}, down: unreachable{}} }

func kafkaKey(brokers []string) string { return strings.Join(brokers, ",") }

func (k *Kafka) cluster(brokers []string) *kafkaCluster {
	key := kafkaKey(brokers)
	c := k.clusters[key]
	if c == nil {
		c = &kafkaCluster{topics: map[string]external.TopicState{}}
		k.clusters[key] = c
	}
	return c
}

// SetUnreachable makes calls naming brokers fail (or succeed again).
func (k *Kafka) SetUnreachable(brokers []string, down bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.down[kafkaKey(brokers)] = down
}

// Topics returns the topics of the cluster at brokers.
func (k *Kafka) Topics(brokers []string) map[string]external.TopicState {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.cluster(brokers).topics)
}

// DeleteTopic removes a topic behind the operator's back.
func (k *Kafka) DeleteTopic(brokers []string, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.cluster(brokers).topics, name)
}

// Calls returns the calls made naming brokers.
func (k *Kafka) Calls(brokers []string) Calls {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cluster(brokers).calls
}

// LastCall returns the cluster, with its TLS and SASL settings, as the
// last call naming brokers gave it.
func (k *Kafka) LastCall(brokers []string) external.KafkaCluster {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cluster(brokers).last
}

func (k *Kafka) begin(cluster external.KafkaCluster, write bool) (*kafkaCluster, error) {
	brokers := cluster.Brokers
	c := k.cluster(brokers)
	c.last = cluster
	if write {
		c.calls.Writes++
	} else {
		c.calls.Reads++
	}
	return c, k.down.check(kafkaKey(brokers))
}

// DescribeTopics implements external.Kafka.
func (k *Kafka) DescribeTopics(_ context.Context, cluster external.KafkaCluster, names []string) (map[string]external.TopicState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.begin(cluster, false)
	if err != nil {
		return nil, err
	}
	out := map[string]external.TopicState{}
	for _, n := range names {
		if st, ok := c.topics[n]; ok {
			out[n] = st
		}
	}
	return out, nil
}

// CreateTopics implements external.Kafka.
func (k *Kafka) CreateTopics(_ context.Context, cluster external.KafkaCluster, topics []external.TopicSpec) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.begin(cluster, true)
	if err != nil {
		return err
	}
	for _, t := range topics {
		if _, ok := c.topics[t.Name]; !ok {
			c.topics[t.Name] = external.TopicState{Partitions: t.Partitions, ReplicationFactor: t.ReplicationFactor, RetentionMs: t.RetentionMs}
		}
	}
	return nil
}

// AddPartitions implements external.Kafka.
func (k *Kafka) AddPartitions(_ context.Context, cluster external.KafkaCluster, topic string, total int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.begin(cluster, true)
	if err != nil {
		return err
	}
	st, ok := c.topics[topic]
	if !ok {
		return fmt.Errorf("add partitions to topic %s: unknown topic", topic)
	}
	if total < st.Partitions {
		return fmt.Errorf("add partitions to topic %s: cannot shrink %d to %d", topic, st.Partitions, total)
	}
	st.Partitions = total
	c.topics[topic] = st
	return nil
}

// SetRetention implements external.Kafka.
func (k *Kafka) SetRetention(_ context.Context, cluster external.KafkaCluster, topic string, retentionMs int64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.begin(cluster, true)
	if err != nil {
		return err
	}
	st, ok := c.topics[topic]
	if !ok {
		return fmt.Errorf("set retention of topic %s: unknown topic", topic)
	}
	st.RetentionMs = retentionMs
	c.topics[topic] = st
	return nil
}

// DeleteTopics implements external.Kafka.
func (k *Kafka) DeleteTopics(_ context.Context, cluster external.KafkaCluster, names []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.begin(cluster, true)
	if err != nil {
		return err
	}
	for _, n := range names {
		delete(c.topics, n)
	}
	return nil
}

// Temporal is an in-memory Temporal namespace admin.
type Temporal struct {
	mu       sync.Mutex
	clusters map[string]*temporalCluster
	down     unreachable
}

type temporalCluster struct {
	namespaces map[string]time.Duration
	calls      Calls
	last       external.TemporalCluster // as the last call named it
}

var _ external.Temporal = (*Temporal)(nil)

// NewTemporal returns an empty fake.
func NewTemporal() *Temporal {
	return &Temporal{clusters: map[string]*temporalCluster{}, down: unreachable{}}
}

func (t *Temporal) cluster(address string) *temporalCluster {
	c := t.clusters[address]
	if c == nil {
		c = &temporalCluster{namespaces: map[string]time.Duration{}}
		t.clusters[address] = c
	}
	return c
}

// SetUnreachable makes calls naming address fail (or succeed again).
func (t *Temporal) SetUnreachable(address string, down bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.down[address] = down
}

// Namespaces returns the namespaces at address and their retention.
func (t *Temporal) Namespaces(address string) map[string]time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.cluster(address).namespaces)
}

// Calls returns the calls made naming address.
func (t *Temporal) Calls(address string) Calls {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cluster(address).calls
}

// LastCall returns the cluster, with its TLS settings, as the last call
// naming address gave it.
func (t *Temporal) LastCall(address string) external.TemporalCluster {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cluster(address).last
}

func (t *Temporal) begin(cluster external.TemporalCluster, write bool) (*temporalCluster, error) {
	address := cluster.Address
	c := t.cluster(address)
	c.last = cluster
	if write {
		c.calls.Writes++
	} else {
		c.calls.Reads++
	}
	return c, t.down.check(address)
}

// DescribeNamespace implements external.Temporal.
func (t *Temporal) DescribeNamespace(_ context.Context, cluster external.TemporalCluster, name string) (external.NamespaceState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.begin(cluster, false)
	if err != nil {
		return external.NamespaceState{}, err
	}
	r, ok := c.namespaces[name]
	return external.NamespaceState{Exists: ok, Retention: r}, nil
}

// RegisterNamespace implements external.Temporal.
func (t *Temporal) RegisterNamespace(_ context.Context, cluster external.TemporalCluster, name string, retention time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.begin(cluster, true)
	if err != nil {
		return err
	}
	if _, ok := c.namespaces[name]; !ok {
		c.namespaces[name] = retention
	}
	return nil
}

// SetRetention implements external.Temporal.
func (t *Temporal) SetRetention(_ context.Context, cluster external.TemporalCluster, name string, retention time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.begin(cluster, true)
	if err != nil {
		return err
	}
	if _, ok := c.namespaces[name]; !ok {
		return fmt.Errorf("namespace %s not found", name)
	}
	c.namespaces[name] = retention
	return nil
}

// DeleteNamespace implements external.Temporal.
func (t *Temporal) DeleteNamespace(_ context.Context, cluster external.TemporalCluster, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.begin(cluster, true)
	if err != nil {
		return err
	}
	delete(c.namespaces, name)
	return nil
}

// Postgres is an in-memory PostgreSQL admin, keyed by the admin URL's
// host:port.
type Postgres struct {
	mu      sync.Mutex
	servers map[string]*pgServer
	down    unreachable
}

type pgServer struct {
	databases map[string]string // name → owner
	roles     map[string]string // name → password
	calls     Calls
}

var _ external.Postgres = (*Postgres)(nil)

// NewPostgres returns an empty fake.
func NewPostgres() *Postgres { return &Postgres{servers: map[string]*pgServer{}, down: unreachable{}} }

func pgHost(adminURL string) string {
	u, err := url.Parse(adminURL)
	if err != nil {
		return adminURL
	}
	return u.Host
}

func (p *Postgres) server(host string) *pgServer {
	s := p.servers[host]
	if s == nil {
		s = &pgServer{databases: map[string]string{}, roles: map[string]string{}}
		p.servers[host] = s
	}
	return s
}

// SetUnreachable makes calls to host:port fail (or succeed again).
func (p *Postgres) SetUnreachable(hostPort string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[hostPort] = down
}

// Databases returns the databases at host:port and their owners.
func (p *Postgres) Databases(hostPort string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.server(hostPort).databases)
}

// Roles returns the roles at host:port and their passwords.
func (p *Postgres) Roles(hostPort string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.server(hostPort).roles)
}

// Calls returns the calls made to host:port.
func (p *Postgres) Calls(hostPort string) Calls {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.server(hostPort).calls
}

func (p *Postgres) begin(adminURL string, write bool) (*pgServer, error) {
	host := pgHost(adminURL)
	s := p.server(host)
	if write {
		s.calls.Writes++
	} else {
		s.calls.Reads++
	}
	return s, p.down.check(host)
}

// Describe implements external.Postgres.
func (p *Postgres) Describe(_ context.Context, adminURL, database, role string) (external.DatabaseState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.begin(adminURL, false)
	if err != nil {
		return external.DatabaseState{}, err
	}
	_, db := s.databases[database]
	_, r := s.roles[role]
	return external.DatabaseState{DatabaseExists: db, RoleExists: r}, nil
}

// CreateRole implements external.Postgres.
func (p *Postgres) CreateRole(_ context.Context, adminURL, role, password string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.begin(adminURL, true)
	if err != nil {
		return err
	}
	if _, ok := s.roles[role]; ok {
		return fmt.Errorf("create role %s: role already exists", role)
	}
	s.roles[role] = password
	return nil
}

// SetPassword implements external.Postgres.
func (p *Postgres) SetPassword(_ context.Context, adminURL, role, password string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.begin(adminURL, true)
	if err != nil {
		return err
	}
	if _, ok := s.roles[role]; !ok {
		return fmt.Errorf("set password of role %s: role does not exist", role)
	}
	s.roles[role] = password
	return nil
}

// CreateDatabase implements external.Postgres.
func (p *Postgres) CreateDatabase(_ context.Context, adminURL, database, owner string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.begin(adminURL, true)
	if err != nil {
		return err
	}
	if _, ok := s.databases[database]; ok {
		return fmt.Errorf("create database %s: database already exists", database)
	}
	s.databases[database] = owner
	return nil
}

// Drop implements external.Postgres.
func (p *Postgres) Drop(_ context.Context, adminURL, database, role string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.begin(adminURL, true)
	if err != nil {
		return err
	}
	delete(s.databases, database)
	delete(s.roles, role)
	return nil
}

// Insights is an in-memory insights service per community: SyncGoals
// keeps the goals it is given as the resource's and archives the
// resource's others, as the service does. Every goal is on track unless a
// test says otherwise.
type Insights struct {
	mu          sync.Mutex
	communities map[string]*insightsCommunity
	down        unreachable
}

type insightsCommunity struct {
	goals   map[string]*fakeGoal
	states  map[string]external.GoalProgress // by goal name: what to answer
	refusal string
	syncs   int
	lists   int
	last    external.InsightsTarget
}

type fakeGoal struct {
	spec         external.GoalSpec
	fromResource bool
	archived     bool
}

var _ external.Insights = (*Insights)(nil)

// NewInsights returns a fake with no goals anywhere.
func NewInsights() *Insights {
	return &Insights{communities: map[string]*insightsCommunity{}, down: unreachable{}}
}

func (f *Insights) community(name string) *insightsCommunity {
	c := f.communities[name]
	if c == nil {
		c = &insightsCommunity{goals: map[string]*fakeGoal{}, states: map[string]external.GoalProgress{}}
		f.communities[name] = c
	}
	return c
}

// SetUnreachable makes calls for community fail as a connection would
// (or succeed again).
func (f *Insights) SetUnreachable(community string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[community] = down
}

// SetRefusal makes SyncGoals for community refuse the goals with message,
// as the service does with InvalidArgument; "" accepts them again.
func (f *Insights) SetRefusal(community, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.community(community).refusal = message
}

// SetProgress makes the fake answer p for the goal p.Name of community.
func (f *Insights) SetProgress(community string, p external.GoalProgress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.community(community).states[p.Name] = p
}

// Forget drops every goal of community, as a lost database would.
func (f *Insights) Forget(community string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.community(community).goals = map[string]*fakeGoal{}
}

// Goals returns community's goals that are not archived, by name, with
// whether each is the resource's.
func (f *Insights) Goals(community string) map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for name, g := range f.community(community).goals {
		if !g.archived {
			out[name] = g.fromResource
		}
	}
	return out
}

// Calls returns how many SyncGoals and ListGoals calls named community.
func (f *Insights) Calls(community string) (syncs, lists int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.community(community)
	return c.syncs, c.lists
}

// LastTarget is the target the last call for community named.
func (f *Insights) LastTarget(community string) external.InsightsTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.community(community).last
}

// CreateGoal adds a goal made through the API, not the resource's.
func (f *Insights) CreateGoal(community string, spec external.GoalSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.community(community).goals[spec.Name] = &fakeGoal{spec: spec}
}

// SyncGoals implements external.Insights.
func (f *Insights) SyncGoals(_ context.Context, target external.InsightsTarget, goals []external.GoalSpec) ([]external.GoalProgress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down.check(target.Community); err != nil {
		return nil, err
	}
	c := f.community(target.Community)
	c.syncs++
	c.last = target
	if c.refusal != "" {
		return nil, &external.GoalsRefusedError{Message: c.refusal}
	}
	named := map[string]bool{}
	for _, g := range goals {
		named[g.Name] = true
		c.goals[g.Name] = &fakeGoal{spec: g, fromResource: true}
	}
	for name, g := range c.goals {
		if g.fromResource && !named[name] {
			g.archived = true
		}
	}
	out := make([]external.GoalProgress, 0, len(goals))
	for _, g := range goals {
		out = append(out, c.progress(c.goals[g.Name]))
	}
	return out, nil
}

// ListGoals implements external.Insights.
func (f *Insights) ListGoals(_ context.Context, target external.InsightsTarget) ([]external.GoalProgress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down.check(target.Community); err != nil {
		return nil, err
	}
	c := f.community(target.Community)
	c.lists++
	c.last = target
	var out []external.GoalProgress
	for _, g := range c.goals {
		if !g.archived {
			out = append(out, c.progress(g))
		}
	}
	return out, nil
}

func (c *insightsCommunity) progress(g *fakeGoal) external.GoalProgress {
	p, ok := c.states[g.spec.Name]
	if !ok {
		p = external.GoalProgress{State: "on_track", Message: "on track", AsOf: "2026-05-04"}
	}
	p.Name, p.FromResource, p.Target = g.spec.Name, g.fromResource, g.spec.Target
	return p
}

// Journeys is an in-memory journeys API per community: each kind's
// versions, the current one, and how many calls of each sort were made.
// Like the worker, it keeps every document as indented JSON, so a
// document saved is not byte for byte the one given.
type Journeys struct {
	mu          sync.Mutex
	communities map[string]*journeysCommunity
	down        unreachable
}

type journeysCommunity struct {
	kinds    map[string]*fakeDefinitions
	refusals map[string]string // by kind: the message SaveDefinition refuses with
	last     external.JourneysTarget
}

type fakeDefinitions struct {
	versions []string // documents; version n is versions[n-1]
	current  int32    // 0: none
	gets     int
	saves    int
	publish  int
}

var _ external.Journeys = (*Journeys)(nil)

// NewJourneys returns a fake with no definitions anywhere.
func NewJourneys() *Journeys {
	return &Journeys{communities: map[string]*journeysCommunity{}, down: unreachable{}}
}

func (f *Journeys) community(name string) *journeysCommunity {
	c := f.communities[name]
	if c == nil {
		c = &journeysCommunity{kinds: map[string]*fakeDefinitions{}, refusals: map[string]string{}}
		f.communities[name] = c
	}
	return c
}

func (c *journeysCommunity) kind(kind string) *fakeDefinitions {
	d := c.kinds[kind]
	if d == nil {
		d = &fakeDefinitions{}
		c.kinds[kind] = d
	}
	return d
}

// SetUnreachable makes calls for community fail as a connection would
// (or succeed again).
func (f *Journeys) SetUnreachable(community string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[community] = down
}

// SetRefusal makes SaveDefinition of kind for community refuse with
// message, as the worker does with InvalidArgument; "" accepts again.
func (f *Journeys) SetRefusal(community, kind, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.community(community).refusals[kind] = message
}

// Publish saves document as the next version of kind and makes it
// current, as an organiser does through the API; it returns the version.
func (f *Journeys) Publish(community, kind, document string) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.community(community).kind(kind)
	d.versions = append(d.versions, indented(document))
	d.current = int32(len(d.versions))
	return d.current
}

// Forget drops every version of community, as a new database would.
func (f *Journeys) Forget(community string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.community(community).kinds = map[string]*fakeDefinitions{}
}

// Current returns the current version of kind and its document; 0 when
// none is current.
func (f *Journeys) Current(community, kind string) (int32, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.community(community).kind(kind)
	if d.current == 0 {
		return 0, ""
	}
	return d.current, d.versions[d.current-1]
}

// Versions returns how many versions of kind community has.
func (f *Journeys) Versions(community, kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.community(community).kind(kind).versions)
}

// Calls returns how many GetDefinition, SaveDefinition and
// PublishDefinition calls named community and kind.
func (f *Journeys) Calls(community, kind string) (gets, saves, publishes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.community(community).kind(kind)
	return d.gets, d.saves, d.publish
}

// LastTarget is the target the last call for community named.
func (f *Journeys) LastTarget(community string) external.JourneysTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.community(community).last
}

func (f *Journeys) call(target external.JourneysTarget, kind string) (*journeysCommunity, *fakeDefinitions, error) {
	if err := f.down.check(target.Community); err != nil {
		return nil, nil, err
	}
	if kind != external.KindOnboarding && kind != external.KindAmbassador {
		return nil, nil, fmt.Errorf("%q is not a kind of journey definition", kind)
	}
	c := f.community(target.Community)
	c.last = target
	return c, c.kind(kind), nil
}

func (d *fakeDefinitions) version(kind string, v int32) external.Definition {
	return external.Definition{Kind: kind, Version: v, Document: d.versions[v-1], Current: v == d.current}
}

// CurrentDefinition implements external.Journeys.
func (f *Journeys) CurrentDefinition(_ context.Context, target external.JourneysTarget, kind string) (external.Definition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, d, err := f.call(target, kind)
	if err != nil {
		return external.Definition{}, err
	}
	d.gets++
	if d.current == 0 {
		return external.Definition{}, external.ErrNoDefinition
	}
	return d.version(kind, d.current), nil
}

// SaveDefinition implements external.Journeys.
func (f *Journeys) SaveDefinition(_ context.Context, target external.JourneysTarget, kind, document string) (external.Definition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, d, err := f.call(target, kind)
	if err != nil {
		return external.Definition{}, err
	}
	d.saves++
	if msg := c.refusals[kind]; msg != "" {
		return external.Definition{}, &external.DefinitionRefusedError{Message: msg}
	}
	if !json.Valid([]byte(document)) {
		return external.Definition{}, &external.DefinitionRefusedError{Message: "document: not JSON"}
	}
	d.versions = append(d.versions, indented(document))
	d.current = int32(len(d.versions))
	return d.version(kind, d.current), nil
}

// PublishDefinition implements external.Journeys.
func (f *Journeys) PublishDefinition(_ context.Context, target external.JourneysTarget, kind string, version int32) (external.Definition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, d, err := f.call(target, kind)
	if err != nil {
		return external.Definition{}, err
	}
	d.publish++
	if version < 1 || int(version) > len(d.versions) {
		return external.Definition{}, external.ErrNoDefinition
	}
	d.current = version
	return d.version(kind, version), nil
}

// indented is document as indented JSON, as the worker keeps it; a
// document that is not JSON is kept as it is.
func indented(document string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(document), "", "  "); err != nil {
		return document
	}
	return b.String()
}
