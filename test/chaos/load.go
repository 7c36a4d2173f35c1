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

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
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

// entry is one line of the load log. Sent is when the request left, At
// when its answer (or error) came back.
type entry struct {
	Seq    int       `json:"seq"`
	At     time.Time `json:"at"`
	Sent   time.Time `json:"sent"`
	Op     string    `json:"op"` // join, update, event, rsvp, cancel, checkin, announce
	Email  string    `json:"email,omitempty"`
	Member string    `json:"member,omitempty"`
	Value  int32     `json:"value,omitempty"` // the availability an update sets; an event's capacity
	// Consent: a join that asked for announcement e-mails.
	Consent bool `json:"consent,omitempty"`
	// Event and Occurrence: what an RSVP, cancellation or check-in is for;
	// Title: an event's.
	Event      string `json:"event,omitempty"`
	Occurrence string `json:"occurrence,omitempty"`
	Title      string `json:"title,omitempty"`
	// Status and Position: where an acknowledged RSVP left the member
	// (going or waitlisted, at that waitlist position).
	Status   string `json:"status,omitempty"`
	Position int32  `json:"position,omitempty"`
	// Announcement: see announcement.
	Announcement *announcement `json:"announcement,omitempty"`
	Replica      string        `json:"replica"`
	Outcome      outcome       `json:"outcome"`
	Error        string        `json:"error,omitempty"`
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

// loader drives the mixed load: joins, profile updates, RSVPs to a few
// small events (with cancellations and check-ins) and announcements. Each
// of its workers owns the members it joined, so everything about one
// member — their updates, whose values strictly increase, and their
// RSVPs — happens one call at a time: the last acknowledged value is the
// least the member must end with, and an RSVP's state is what its last
// acknowledged call left.
type loader struct {
	c       *cluster
	clients []membersv1connect.MembersServiceClient
	// front reaches whichever members replica is up, for the accounting.
	front membersv1connect.MembersServiceClient
	names []string
	// The events service: per replica for the load, front for the setup
	// and the accounting.
	attendance      []eventsv1connect.AttendanceServiceClient
	eventNames      []string
	eventsFront     eventsv1connect.EventsServiceClient
	attendanceFront eventsv1connect.AttendanceServiceClient
	// The communications service, through its front.
	announcements  communicationsv1connect.AnnouncementsServiceClient
	templates      communicationsv1connect.TemplatesServiceClient
	communications communicationsv1connect.CommunicationsServiceClient
	// occurrences are the capacity-limited events the RSVPs go to, made
	// by setup; setupErr says why there are none.
	occurrences []occurrence
	setupErr    error
	log         *loadLog
	seed        uint64
}

func newLoader(c *cluster, token string, log *loadLog, seed uint64) *loader {
	l := &loader{c: c, log: log, seed: seed}
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
	events := "http://" + c.services["events"].front.Addr()
	l.eventsFront = eventsv1connect.NewEventsServiceClient(httpClient, events, bearer)
	l.attendanceFront = eventsv1connect.NewAttendanceServiceClient(httpClient, events, bearer)
	for _, r := range c.services["events"].replicas {
		l.attendance = append(l.attendance, eventsv1connect.NewAttendanceServiceClient(httpClient, r.url, bearer))
		l.eventNames = append(l.eventNames, r.name)
	}
	comms := "http://" + c.services["communications"].front.Addr()
	l.announcements = communicationsv1connect.NewAnnouncementsServiceClient(httpClient, comms, bearer)
	l.templates = communicationsv1connect.NewTemplatesServiceClient(httpClient, comms, bearer)
	l.communications = communicationsv1connect.NewCommunicationsServiceClient(httpClient, comms, bearer)
	return l
}

// run sets up the events and templates, then performs ops operations with
// workers in parallel, spread over about span so the faults meet a
// running load, while the announcer sends a few announcements.
func (l *loader) run(ctx context.Context, ops, workers int, span time.Duration) {
	l.setupErr = l.setup(ctx, announcementsFor(ops))
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
	if l.setupErr == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.announcer(ctx, announcementsFor(ops), span)
		}()
	}
	wg.Wait()
}

type owned struct {
	id    string
	value int32
}

// The mix of operations, in hundredths, after a worker's first join.
const (
	mixJoin    = 30
	mixUpdate  = 20
	mixRSVP    = 27
	mixCancel  = 8
	mixCheckIn = 15
)

func (l *loader) worker(ctx context.Context, w, ops int, pace time.Duration) {
	rng := rand.New(rand.NewPCG(l.seed, uint64(w)))
	var mine []*owned
	var seats []*seat
	next := time.Now()
	for i := range ops {
		if ctx.Err() != nil {
			return
		}
		next = next.Add(pace)
		time.Sleep(time.Until(next))
		r := rng.IntN(len(l.clients))
		pick := rng.IntN(100)
		if len(mine) == 0 || pick < mixJoin {
			email := fmt.Sprintf("chaos-%d-%d-%d@example.org", l.seed, w, i)
			consent := rng.IntN(10) < 3
			sent := time.Now().UTC()
			id, out, err := l.join(ctx, r, email, consent)
			l.log.add(entry{Op: "join", Sent: sent, Email: email, Member: id, Consent: consent, Replica: l.names[r], Outcome: out, Error: errString(err)})
			if out == ok {
				mine = append(mine, &owned{id: id})
			}
			continue
		}
		pick -= mixJoin
		if len(l.occurrences) > 0 && pick >= mixUpdate {
			pick -= mixUpdate
			switch {
			case pick < mixRSVP:
				if s := l.rsvpTarget(rng, mine, &seats); s != nil {
					l.rsvp(ctx, rng.IntN(len(l.attendance)), s)
					continue
				}
			case pick < mixRSVP+mixCancel:
				if s := pickSeat(rng, seats, seatGoing, seatWaitlisted); s != nil {
					l.cancel(ctx, rng.IntN(len(l.attendance)), s)
					continue
				}
			default:
				if s := pickSeat(rng, seats, seatGoing); s != nil {
					l.checkIn(ctx, rng.IntN(len(l.attendance)), s)
					continue
				}
			}
		}
		m := mine[rng.IntN(len(mine))]
		if m.value >= 744 {
			continue // the field's maximum
		}
		m.value++
		sent := time.Now().UTC()
		out, err := l.update(ctx, r, m.id, m.value)
		l.log.add(entry{Op: "update", Sent: sent, Member: m.id, Value: m.value, Replica: l.names[r], Outcome: out, Error: errString(err)})
	}
}

func (l *loader) join(ctx context.Context, r int, email string, consent bool) (string, outcome, error) {
	res, err := l.clients[r].JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{
		Community: community, Email: email, DisplayName: "Chaos Member", EmailConsent: consent}))
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
