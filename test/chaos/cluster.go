// Package chaos runs Kinship's production topology on one machine — the
// broker, PostgreSQL and every replica as separate OS processes of the one
// kinship binary, each reached through a TCP proxy the harness controls —
// drives a seeded load against it while injecting seeded faults, and
// accounts exactly for what was lost, duplicated or reordered (see
// docs/reliability.md#chaos-testing).
package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

const community = "demo"

// Workload subjects and audiences the topology trusts.
const (
	audience         = "kinship"
	workloadAudience = "kinship-workload"
)

// cluster is the running topology.
type cluster struct {
	dir      string
	bin      string
	pg       *dbtest.Cluster
	pgAddr   string
	issuer   *localissuer.Issuer
	issuerLn net.Listener
	broker   *process
	// brokerAddr is where the broker itself listens.
	brokerAddr string
	kafka      *proxy // the broker, as every component reaches it
	temporal   *process
	tproxy     *proxy // the Temporal frontend, as the workers reach it
	smtp       *proxy // the mail sink, as communications reaches it
	mail       *mailSink
	// services by name: members, events, communications, partners, worker.
	services map[string]*service
	order    []string
	top      topology
}

// service is the replicas of one component. Everything but the workers
// reaches it through front; the workers through workerFront, so a
// partition between workers and a service cuts only that path.
type service struct {
	name        string
	replicas    []*replica
	front       *proxy
	workerFront *proxy
}

// replica is one process with the proxy its database connections go
// through.
type replica struct {
	name string
	proc *process
	db   *proxy
	url  string
}

// all returns every replica of every service, in start order.
func (c *cluster) all() []*replica {
	var out []*replica
	for _, name := range c.order {
		out = append(out, c.services[name].replicas...)
	}
	return out
}

// topology says how many replicas of each component run.
type topology struct {
	replicas, workers int
	// emailPerSecond is each communications replica's sending limit per
	// community; 0 means 500.
	emailPerSecond int
	// brokerDown is how long a stopped broker stays down (the
	// broker-restart fault); 0 means 60 s.
	brokerDown time.Duration
}

// startCluster starts PostgreSQL, the issuer, the mail sink, the broker,
// the Temporal server and every component's replicas as processes of bin.
func startCluster(ctx context.Context, dir, bin string, top topology) (_ *cluster, err error) {
	if top.emailPerSecond == 0 {
		top.emailPerSecond = 500
	}
	if top.brokerDown == 0 {
		top.brokerDown = time.Minute
	}
	// c stays the cluster being built when a return sets the result to
	// nil, so a failed start stops every process it started.
	c := &cluster{dir: dir, bin: bin, services: map[string]*service{}, top: top}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.pg, err = dbtest.Start(ctx); err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	u, _ := url.Parse(c.pg.URL("postgres"))
	c.pgAddr = u.Host
	for _, name := range []string{"members", "events", "communications", "partners", "worker"} {
		if err := createDatabase(ctx, c.pg.URL("postgres"), name); err != nil {
			return nil, err
		}
	}
	if c.issuerLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	if c.issuer, err = localissuer.New("http://"+c.issuerLn.Addr().String(), ""); err != nil {
		return nil, err
	}
	go func() { _ = http.Serve(c.issuerLn, c.issuer.Handler()) }()
	if c.mail, err = startMailSink(filepath.Join(dir, "mail")); err != nil {
		return nil, err
	}
	if c.smtp, err = newProxy(c.mail.addr()); err != nil {
		return nil, err
	}

	// Every port a process of the harness listens on is held from here
	// until that process starts (see portHold): the broker's, the
	// Temporal server's, then every replica's.
	names := []string{"members", "events", "communications", "partners", "worker"}
	count := func(name string) int {
		if name == "worker" {
			return top.workers
		}
		return top.replicas
	}
	held := 2
	for _, name := range names {
		held += count(name)
	}
	ports, err := holdPorts(held)
	if err != nil {
		return nil, err
	}
	defer ports.close()
	const brokerPort, temporalPort = 0, 1

	// The broker listens on its own port and advertises its proxy's, so
	// every client connection goes through the proxy.
	c.brokerAddr = ports.addr(brokerPort)
	if c.kafka, err = newProxy(c.brokerAddr); err != nil {
		return nil, err
	}
	c.broker = &process{name: "broker", bin: bin, log: filepath.Join(dir, "broker.log"), env: baseEnv(),
		args: []string{"broker", "-addr", c.brokerAddr, "-advertise", c.kafka.Addr(), "-data-dir", filepath.Join(dir, "broker")}}
	ports.release(brokerPort)
	if err := c.broker.start(); err != nil {
		return nil, err
	}
	if err := c.ensureTopics(ctx); err != nil {
		return nil, err
	}
	temporalAddr := ports.addr(temporalPort)
	if c.tproxy, err = newProxy(temporalAddr); err != nil {
		return nil, err
	}
	c.temporal = &process{name: "temporal", bin: bin, log: filepath.Join(dir, "temporal.log"), env: baseEnv(),
		args: []string{"temporal-server", "-addr", temporalAddr, "-data-file", filepath.Join(dir, "temporal.db"), "-namespaces", community}}
	ports.release(temporalPort)
	if err := c.temporal.start(); err != nil {
		return nil, err
	}
	// The Temporal server picks its internal ports as it starts; wait until
	// it has started, so the harness binds nothing meanwhile and the
	// workers find their namespace.
	if err := waitLogged(ctx, c.temporal.log, "temporal listening on", 2*time.Minute); err != nil {
		return nil, fmt.Errorf("temporal: %w (log %s)", err, c.temporal.log)
	}

	// Front proxies and database proxies first: every component is told
	// every other's address.
	next := temporalPort + 1
	var replicaPorts []int // each replica's held port, in c.all() order
	for _, name := range names {
		svc := &service{name: name}
		var addrs []string
		for i := range count(name) {
			addr := ports.addr(next)
			replicaPorts = append(replicaPorts, next)
			next++
			addrs = append(addrs, addr)
			r := &replica{name: fmt.Sprintf("%s-%d", name, i), url: "http://" + addr}
			if r.db, err = newProxy(c.pgAddr); err != nil {
				return nil, err
			}
			svc.replicas = append(svc.replicas, r)
		}
		if svc.front, err = newProxy(addrs...); err != nil {
			return nil, err
		}
		if svc.workerFront, err = newProxy(addrs...); err != nil {
			return nil, err
		}
		c.services[name] = svc
		c.order = append(c.order, name)
	}
	for i, r := range c.all() {
		ports.release(replicaPorts[i])
		if err := c.startReplica(r); err != nil {
			return nil, err
		}
	}
	for _, r := range c.all() {
		if err := waitReady(ctx, r.url, 120*time.Second); err != nil {
			return nil, fmt.Errorf("%s: %w (log %s)", r.name, err, r.proc.log)
		}
	}
	// A replica that could not bind its port leaves its address to
	// whatever answers there: the run would measure the wrong topology.
	for _, r := range c.all() {
		if logged(r.proc.log, "address already in use") {
			return nil, fmt.Errorf("%s could not listen on %s (log %s)", r.name, r.url, r.proc.log)
		}
	}
	if err := waitGroupsStable(ctx, c.kafka.Addr(), 2*time.Minute); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cluster) ensureTopics(ctx context.Context) error {
	var topics []kafka.Topic
	for _, name := range []string{memberevents.Topic(community), community + ".events.v1", community + ".communications.v1", community + ".partners.v1"} {
		topics = append(topics, kafka.Topic{Name: name, Partitions: 4, ReplicationFactor: 1},
			kafka.Topic{Name: kafka.DeadLetterTopic(name), Partitions: 1, ReplicationFactor: 1})
	}
	var err error
	for attempt := range 50 {
		if err = kafka.EnsureTopics(ctx, []string{c.kafka.Addr()}, kafka.Security{}, topics...); err == nil {
			return nil
		}
		time.Sleep(time.Duration(min(attempt+1, 5)) * 100 * time.Millisecond)
	}
	return fmt.Errorf("create topics: %w", err)
}

// startReplica prepares r's token and settings, and starts its process
// (its database proxy is already listening).
func (c *cluster) startReplica(r *replica) error {
	kind, _, _ := strings.Cut(r.name, "-")
	front := func(name string) string { return "http://" + c.services[name].front.Addr() }
	if kind == "worker" {
		front = func(name string) string { return "http://" + c.services[name].workerFront.Addr() }
	}
	env := append(baseEnv(),
		"KINSHIP_COMMUNITIES="+community,
		"KAFKA_BROKERS="+c.kafka.Addr(),
		"KINSHIP_HTTP_ADDR="+strings.TrimPrefix(r.url, "http://"),
		"DATABASE_URL="+fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", r.db.Addr(), kind),
		"AUTH_ISSUER="+c.issuer.URL(),
		"AUTH_AUDIENCE="+audience,
		"AUTH_WORKLOAD_AUDIENCE="+workloadAudience,
		"AUTH_WORKLOAD_SUBJECTS=kinship-worker,kinship-communications,kinship-events,kinship-partners",
	)
	if kind != "members" {
		tokenFile := filepath.Join(c.dir, "token-"+kind)
		token, err := c.issuer.Mint(localissuer.Claims{Subject: "kinship-" + kind, Audience: workloadAudience, TTL: 24 * time.Hour})
		if err != nil {
			return err
		}
		if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
			return err
		}
		env = append(env, "KINSHIP_WORKLOAD_TOKEN_FILE="+tokenFile, "KINSHIP_MEMBERS_URL="+front("members"))
	}
	switch kind {
	case "events":
		env = append(env, "KINSHIP_PARTNERS_URL="+front("partners"), "KINSHIP_EVENTS_PUBLIC_URL="+front("events"))
	case "partners":
		env = append(env, "KINSHIP_EVENTS_URL="+front("events"), "KINSHIP_COMMUNICATIONS_URL="+front("communications"))
	case "communications":
		keyFile := filepath.Join(c.dir, "unsubscribe-key")
		if err := os.WriteFile(keyFile, []byte("chaos-unsubscribe-key-0123456789abcdef"), 0o600); err != nil {
			return err
		}
		env = append(env, "SMTP_URL=smtp://"+c.smtp.Addr(), "SMTP_FROM=Kinship <no-reply@chaos.example.org>",
			"KINSHIP_PUBLIC_URL="+front("communications"), "KINSHIP_EVENTS_PUBLIC_URL="+front("events"),
			"KINSHIP_UNSUBSCRIBE_KEY_FILE="+keyFile, "KINSHIP_QUIET_HOURS=off", "KINSHIP_EMAIL_PER_SECOND="+strconv.Itoa(c.top.emailPerSecond))
	case "worker":
		env = append(env, "TEMPORAL_ADDRESS="+c.tproxy.Addr(), "KINSHIP_COMMUNICATIONS_URL="+front("communications"),
			"KINSHIP_EVENTS_URL="+front("events"), "KINSHIP_PARTNERS_URL="+front("partners"), "KINSHIP_DIGEST_SCHEDULE=off")
	}
	r.proc = &process{name: r.name, bin: c.bin, args: []string{kind}, env: env, log: filepath.Join(c.dir, r.name+".log")}
	return r.proc.start()
}

// adminToken is a platform admin's token for the load and the accounting.
func (c *cluster) adminToken() (string, error) {
	return c.issuer.Mint(localissuer.Claims{Subject: "chaos-load", Audience: audience, Roles: []string{string(auth.PlatformAdmin)}, TTL: 24 * time.Hour})
}

func (c *cluster) close() {
	for _, r := range c.all() {
		if r.proc != nil {
			r.proc.stop()
		}
		if r.db != nil {
			r.db.Close()
		}
	}
	for _, svc := range c.services {
		svc.front.Close()
		svc.workerFront.Close()
	}
	for _, p := range []*process{c.temporal, c.broker} {
		if p != nil {
			p.stop()
		}
	}
	for _, p := range []*proxy{c.tproxy, c.kafka, c.smtp} {
		if p != nil {
			p.Close()
		}
	}
	if c.mail != nil {
		c.mail.close()
	}
	if c.issuerLn != nil {
		_ = c.issuerLn.Close()
	}
	if c.pg != nil {
		c.pg.Stop()
	}
}

// baseEnv is the environment every process starts from: no settings of
// the machine's leak into the topology.
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_FORMAT=json", "LOG_LEVEL=info", "KINSHIP_SHUTDOWN_TIMEOUT=5s"}
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+name)
	return err
}

// waitReady polls base/readyz until it answers 200.
func waitReady(ctx context.Context, base string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("readyz answered %d", res.StatusCode)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
