package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/ingest"
	"github.com/kinshiphq/kinship/services/members/store"
)

// IngestPattern is where activity sources post: one webhook per community
// and source.
const IngestPattern = "POST /ingest/{community}/{source}"

// Ingest serves the activity sources' webhooks. A delivery is taken only
// with a valid signature under the source's secret (401 otherwise, and
// nothing is recorded or logged); a body over ingest.MaxBody is 413; a
// community or source that does not exist is 404. Whatever a signed
// delivery holds is answered 200 — recorded, kept unmatched, or ignored
// with a reason in the delivery log — so no sender retries a delivery that
// cannot succeed.
type Ingest struct {
	store       *store.Store
	audit       *audit.Log
	logger      *slog.Logger
	now         func() time.Time
	communities map[string]bool
	commits     groupCommit
}

// NewIngest serves the webhooks of communities; now is the clock (nil
// means time.Now).
func NewIngest(s *store.Store, log *audit.Log, logger *slog.Logger, communities []string, now func() time.Time) *Ingest {
	if now == nil {
		now = time.Now
	}
	h := &Ingest{store: s, audit: log, logger: logger, now: now, communities: map[string]bool{}}
	for _, c := range communities {
		h.communities[c] = true
	}
	h.commits.flush = h.flush
	return h
}

// ingestAnswer is the body of a signed delivery's answer.
type ingestAnswer struct {
	DeliveryID string `json:"delivery_id"`
	Outcome    string `json:"outcome"`
	Recorded   int    `json:"recorded"`
	Unmatched  int    `json:"unmatched"`
	Reason     string `json:"reason,omitempty"`
	// Duplicate says the delivery id was seen before; nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
}

func (h *Ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	community, sourceName := r.PathValue("community"), r.PathValue("source")
	_, cerr := validate.Community(community)
	_, serr := domain.ValidateSourceName("source", sourceName)
	if cerr != nil || serr != nil || !h.communities[community] {
		writeJSONError(w, http.StatusNotFound, "no such activity source")
		return
	}
	if r.ContentLength > ingest.MaxBody {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ingest.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeJSONError(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
		return
	case err != nil:
		writeJSONError(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	src, err := h.store.Source(ctx, community, sourceName)
	switch {
	case errors.Is(err, domain.ErrSourceNotFound):
		writeJSONError(w, http.StatusNotFound, "no such activity source")
		return
	case err != nil:
		h.logger.ErrorContext(ctx, "read activity source", "community", community, "source", sourceName, "error", err)
		writeJSONError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	now := h.now()
	delivery, err := ingest.Verify(src.Kind, r.Header, body, src.Secrets(now), now)
	if err != nil {
		h.logger.InfoContext(ctx, "delivery refused", "community", community, "source", sourceName, "reason", err.Error())
		writeJSONError(w, http.StatusUnauthorized, err.Error())
		return
	}
	answer, err := h.take(ctx, src, delivery, body, now)
	if err != nil {
		h.logger.ErrorContext(ctx, "take delivery", "community", community, "source", sourceName, "delivery_id", delivery.ID, "error", err)
		writeJSONError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	h.logger.InfoContext(ctx, "delivery taken", "community", community, "source", sourceName, "delivery_id", delivery.ID,
		"outcome", answer.Outcome, "recorded", answer.Recorded, "unmatched", answer.Unmatched, "duplicate", answer.Duplicate)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// take records what a verified delivery holds, as the source (a workload
// named "members/ingest/<source>") for the audit log.
func (h *Ingest) take(ctx context.Context, src domain.ActivitySource, delivery ingest.Delivery, body []byte, now time.Time) (ingestAnswer, error) {
	settings, err := h.store.Settings(ctx, src.Community)
	if err != nil {
		return ingestAnswer{}, err
	}
	parsed := ingest.Parse(src.Kind, delivery.Event, body, now)
	reason := parsed.Ignored
	var items []store.Incoming
	for _, a := range parsed.Activities {
		if !settings.Counts(a.Type, src.Name) {
			reason = "the community weighs neither the source " + src.Name + " nor the activity type " + a.Type
			continue
		}
		who := a.Who
		if who.Handle != "" {
			who.Provider = src.Provider()
		}
		items = append(items, store.Incoming{Who: who, Activity: domain.Activity{Community: src.Community, Type: a.Type,
			OccurredAt: a.OccurredAt.Truncate(time.Microsecond), SourceEventID: src.Name + "/" + a.Key, Properties: a.Properties, Source: src.Name}})
	}
	if reason == "" && len(parsed.Skipped) > 0 {
		reason = parsed.Skipped[0]
	}
	ctx = auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindWorkload, Subject: "members/ingest/" + src.Name, Roles: []auth.Role{auth.Workload},
		Community: src.Community}, auth.ScopeCommunity)
	r, err := h.commits.do(ctx, store.IngestJob{Ctx: ctx, Delivery: domain.Delivery{Community: src.Community, Source: src.Name, DeliveryID: delivery.ID,
		Event: delivery.Event, ReceivedAt: now.UTC().Truncate(time.Microsecond), Reason: reason}, Items: items, Settings: settings})
	if err != nil {
		return ingestAnswer{}, err
	}
	d := r.Delivery
	return ingestAnswer{DeliveryID: d.DeliveryID, Outcome: d.Outcome, Recorded: d.Recorded, Unmatched: d.Unmatched, Reason: d.Reason, Duplicate: r.Duplicate}, nil
}

// flush ingests deliveries that arrived together in one transaction.
func (h *Ingest) flush(ctx context.Context, jobs []store.IngestJob) ([]store.IngestResult, error) {
	return h.store.IngestMany(ctx, jobs, h.audit)
}

// groupCommit lets deliveries that arrive while another commits share the
// next commit: SQLite takes one writer at a time, so one transaction for
// many small deliveries is what keeps up with a busy source. The first
// caller to find no commit running leads: it commits what waits, in
// arrival order, until its own delivery is in; then it hands the lead to
// the oldest delivery still waiting and returns. So no caller commits
// for others for longer than its own delivery takes, however busy the
// source.
type groupCommit struct {
	mu       sync.Mutex
	waiting  []*commitJob
	flushing bool
	flush    func(ctx context.Context, jobs []store.IngestJob) ([]store.IngestResult, error)
}

type commitJob struct {
	job  store.IngestJob
	res  store.IngestResult
	err  error
	done chan struct{} // closed when committed
	lead chan struct{} // closed when handed the lead
}

// maxGroup bounds the deliveries of one commit.
const maxGroup = 64

func (g *groupCommit) do(ctx context.Context, job store.IngestJob) (store.IngestResult, error) {
	j := &commitJob{job: job, done: make(chan struct{}), lead: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, j)
	if g.flushing {
		g.mu.Unlock()
		select {
		case <-j.done: // a leader committed it
			return j.res, j.err
		case <-j.lead: // the previous leader is done: lead from here
		}
		g.mu.Lock()
	}
	g.flushing = true
	for !committed(j) {
		batch := g.waiting[:min(len(g.waiting), maxGroup)]
		g.waiting = g.waiting[len(batch):]
		g.mu.Unlock()
		g.commit(ctx, batch)
		g.mu.Lock()
	}
	if len(g.waiting) > 0 {
		close(g.waiting[0].lead)
	} else {
		g.flushing = false
	}
	g.mu.Unlock()
	return j.res, j.err
}

func committed(j *commitJob) bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// commit runs one group; the committing caller's cancellation does not
// fail the others' deliveries.
func (g *groupCommit) commit(ctx context.Context, batch []*commitJob) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	jobs := make([]store.IngestJob, len(batch))
	for i, j := range batch {
		jobs[i] = j.job
	}
	results, err := g.flush(ctx, jobs)
	for i, j := range batch {
		if err != nil {
			j.err = err
		} else {
			j.res, j.err = results[i], results[i].Err
		}
		close(j.done)
	}
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": message})
}
