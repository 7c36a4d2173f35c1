// Package events is what the insights service consumes: members.v1,
// events.v1, communications.v1 and partners.v1 of each community it
// serves, turned into facts keyed by what they are about. It publishes
// nothing.
package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// Group is the consumer group of the insights projection.
const Group = "kinship-insights"

// Domains are the topics' domains the projection reads.
var Domains = []string{"members", "events", "communications", "partners"}

// Topics are a community's topics the projection reads.
func Topics(community string) []string {
	out := make([]string, len(Domains))
	for i, d := range Domains {
		out[i] = community + "." + d + ".v1"
	}
	return out
}

// Gate pauses the projection of a community while it is rebuilt.
type Gate struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// NewGate returns a gate with every community open.
func NewGate() *Gate { return &Gate{locks: map[string]*sync.Mutex{}} }

// Lock holds community's gate until the returned function is called.
func (g *Gate) Lock(community string) func() {
	g.mu.Lock()
	l, ok := g.locks[community]
	if !ok {
		l = &sync.Mutex{}
		g.locks[community] = l
	}
	g.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Projection turns consumed events into facts, each event once (the
// inbox) and each fact once (its natural key).
type Projection struct {
	store *store.Store
	inbox *inbox.Inbox
	gate  *Gate
}

// NewProjection applies events to s.
func NewProjection(s *store.Store, in *inbox.Inbox, gate *Gate) *Projection {
	return &Projection{store: s, inbox: in, gate: gate}
}

// change is what one event does, in the inbox's transaction.
type change func(ctx context.Context, tx *sql.Tx) error

// errSkip marks an event type the projection does not count.
var errSkip = errors.New("not counted")

// Handle applies one event. Undecodable events, and events of a community
// not served or naming another community than their topic's, are
// permanent failures (dead-lettered).
func (p *Projection) Handle(ctx context.Context, e kafka.Event) error {
	community, domain, ok := strings.Cut(e.Topic, ".")
	if !ok {
		return kafka.Permanent(fmt.Errorf("topic %q is not <community>.<domain>.v1", e.Topic))
	}
	if _, served := p.store.Zone(community); !served {
		return kafka.Permanent(fmt.Errorf("community %s is not served here", community))
	}
	var apply change
	var err error
	switch strings.TrimSuffix(domain, ".v1") {
	case "members":
		apply, err = p.members(e, community)
	case "events":
		apply, err = p.events(e, community)
	case "communications":
		apply, err = p.communications(e, community)
	case "partners":
		apply, err = p.partners(e, community)
	default:
		err = errSkip
	}
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return kafka.Permanent(err)
	}
	defer p.gate.Lock(community)()
	_, err = p.inbox.Handle(ctx, Group, e.ID, func(tx *sql.Tx) error {
		if err := p.store.LockCommunity(ctx, tx, community, false); err != nil {
			return err
		}
		return apply(ctx, tx)
	})
	return err
}

// payloadMessage is an event's payload: every one names its community.
type payloadMessage interface {
	proto.Message
	GetCommunity() string
}

// types maps the CloudEvents types of payloads — a payload's type is its
// protobuf message's full name, such as kinship.members.v1.MemberJoined —
// to a constructor of each.
func types(ms ...payloadMessage) map[string]func() payloadMessage {
	out := map[string]func() payloadMessage{}
	for _, m := range ms {
		out[string(proto.MessageName(m))] = func() payloadMessage { return m.ProtoReflect().New().Interface().(payloadMessage) }
	}
	return out
}

// payload is a new payload of e's type, or errSkip for a type not counted.
func payload(e kafka.Event, of map[string]func() payloadMessage) (payloadMessage, error) {
	newMsg, ok := of[e.Type]
	if !ok {
		return nil, errSkip
	}
	return newMsg(), nil
}

// decode reads e into msg and checks the payload's community.
func decode(e kafka.Event, community string, msg payloadMessage) error {
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return err
	}
	if msg.GetCommunity() != community {
		return fmt.Errorf("event %s on %s names community %q", e.ID, e.Topic, msg.GetCommunity())
	}
	return nil
}

// at is the event's time, for payloads that carry none.
func at(e kafka.Event) time.Time {
	if e.Time.IsZero() {
		return time.Now().UTC()
	}
	return e.Time.UTC()
}

// timeOr is ts as a time, or fallback when unset.
func timeOr(ts *timestamppb.Timestamp, fallback time.Time) time.Time {
	if ts == nil || !ts.IsValid() || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return fallback
	}
	return ts.AsTime().UTC()
}
