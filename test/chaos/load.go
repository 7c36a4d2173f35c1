package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// outcome is what the load generator knows of one operation: acknowledged
// (ok), refused or failed before anything was written (refused), or not
// known (unknown: a timeout or a dropped connection, after which the write
// may or may not have happened).
type outcome string

const (
	ok      outcome = "ok"
	refused outcome = "refused"
	unknown outcome = "unknown"
)

// entry is one line of the load log.
type entry struct {
	Seq     int       `json:"seq"`
	At      time.Time `json:"at"`
	Op      string    `json:"op"` // join, update
	Email   string    `json:"email,omitempty"`
	Member  string    `json:"member,omitempty"`
	Value   int32     `json:"value,omitempty"` // the availability an update sets
	Replica string    `json:"replica"`
	Outcome outcome   `json:"outcome"`
	Error   string    `json:"error,omitempty"`
}

// loadLog is the load generator's own record, kept in memory for the
// accounting and written as JSON lines for people.
type loadLog struct {
	mu      sync.Mutex
	entries []entry
	file    *os.File
	enc     *json.Encoder
}

func newLoadLog(path string) (*loadLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &loadLog{file: f, enc: json.NewEncoder(f)}, nil
}

func (l *loadLog) add(e entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq, e.At = len(l.entries), time.Now().UTC()
	l.entries = append(l.entries, e)
	_ = l.enc.Encode(e)
}

func (l *loadLog) close() { _ = l.file.Close() }

// loader drives joins and profile updates. Each of its workers owns the
// members it joined, so one member's updates are sequential and their
// values strictly increase: the last acknowledged value is the least the
// member must end with.
type loader struct {
	clients []membersv1connect.MembersServiceClient
	// front reaches whichever members replica is up, for the accounting.
	front membersv1connect.MembersServiceClient
	names []string
	log   *loadLog
	seed  uint64
}

func newLoader(c *cluster, token string, log *loadLog, seed uint64) *loader {
	l := &loader{log: log, seed: seed}
	httpClient := &http.Client{Timeout: 5 * time.Second}
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
	l.front = membersv1connect.NewMembersServiceClient(httpClient, "http://"+c.services["members"].front.Addr(), bearer)
	for _, r := range c.services["members"].replicas {
		l.clients = append(l.clients, membersv1connect.NewMembersServiceClient(httpClient, r.url, bearer))
		l.names = append(l.names, r.name)
	}
	return l
}

// run performs ops operations with workers in parallel, spread over
// about span so the faults meet a running load.
func (l *loader) run(ctx context.Context, ops, workers int, span time.Duration) {
	var wg sync.WaitGroup
	per := ops / workers
	pace := span / time.Duration(max(per, 1))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.worker(ctx, w, per, pace)
		}()
	}
	wg.Wait()
}

type owned struct {
	id    string
	value int32
}

func (l *loader) worker(ctx context.Context, w, ops int, pace time.Duration) {
	rng := rand.New(rand.NewPCG(l.seed, uint64(w)))
	var mine []*owned
	next := time.Now()
	for i := range ops {
		if ctx.Err() != nil {
			return
		}
		next = next.Add(pace)
		time.Sleep(time.Until(next))
		r := rng.IntN(len(l.clients))
		if len(mine) == 0 || rng.IntN(10) < 4 {
			email := fmt.Sprintf("chaos-%d-%d-%d@example.org", l.seed, w, i)
			id, out, err := l.join(ctx, r, email)
			l.log.add(entry{Op: "join", Email: email, Member: id, Replica: l.names[r], Outcome: out, Error: errString(err)})
			if out == ok {
				mine = append(mine, &owned{id: id})
			}
			continue
		}
		m := mine[rng.IntN(len(mine))]
		if m.value >= 744 {
			continue // the field's maximum
		}
		m.value++
		out, err := l.update(ctx, r, m.id, m.value)
		l.log.add(entry{Op: "update", Member: m.id, Value: m.value, Replica: l.names[r], Outcome: out, Error: errString(err)})
	}
}

func (l *loader) join(ctx context.Context, r int, email string) (string, outcome, error) {
	res, err := l.clients[r].JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{
		Community: community, Email: email, DisplayName: "Chaos Member"}))
	if err != nil {
		return "", classify(err), err
	}
	return res.Msg.GetMember().GetId(), ok, nil
}

func (l *loader) update(ctx context.Context, r int, id string, value int32) (outcome, error) {
	_, err := l.clients[r].UpdateProfile(ctx, connect.NewRequest(&membersv1.UpdateProfileRequest{
		Community: community, Id: id, Profile: &membersv1.Profile{AvailabilityHoursPerMonth: value},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"availability_hours_per_month"}}}))
	if err != nil {
		return classify(err), err
	}
	return ok, nil
}

// classify tells a refusal that wrote nothing (the server answered with an
// error: each write is one transaction) from a failure whose effect is
// not known (no answer).
func classify(err error) outcome {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return unknown
	}
	switch ce.Code() {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists, connect.CodePermissionDenied,
		connect.CodeUnauthenticated, connect.CodeFailedPrecondition, connect.CodeResourceExhausted:
		return refused
	}
	return unknown // Internal (a commit cut off), Unavailable, timeouts: the write may have happened
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
