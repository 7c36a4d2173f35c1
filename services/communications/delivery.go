package communications

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/internal/outbound"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// errSettled means a message was settled elsewhere (cancelled, erased)
// while its batch waited; there is nothing to record.
var errSettled = errors.New("message settled while waiting")

// Mailer delivers e-mail.
type Mailer interface {
	Send(ctx context.Context, env mail.Envelope) error
}

// Deliverer turns a due message into an outcome: it applies consent,
// suppression and quiet hours, renders the template, waits for the rate
// limit and sends by e-mail or webhook. The API uses it for immediate
// sends and the dispatch loop for everything queued.
type Deliverer struct {
	store       *store.Store
	mailer      Mailer
	webhooks    *outbound.Client
	events      events.Factory
	quiet       domain.QuietHours
	links       Links
	msgIDDomain string
	eventsURL   string
	limits      *limiters
	retryBase   time.Duration
	// markWindow bounds the e-mails of a batch marked sending and not
	// yet answered by the mail server.
	markWindow int
	wake       chan struct{}
	tracer     trace.Tracer
	logger     *slog.Logger
	now        func() time.Time
	// deliveries counts outcomes by channel (kinship.communications.deliveries).
	deliveries metric.Int64Counter
	// inDoubt counts e-mails found in doubt by what became of them
	// (kinship.communications.in_doubt).
	inDoubt metric.Int64Counter
	// crash, set by tests only, stops a delivery at a point as if the
	// process died there: nothing more is recorded.
	crash func(crashPoint) bool
	// crashCommit, set by tests only, is asked before each group commit
	// of hand-offs with their message ids; true stops the batch there as
	// if the process died: that group and everything after is lost.
	crashCommit func(handOffs []string) bool
}

// crashPoint is where a test may stop a delivery as a crash would.
type crashPoint int

const (
	// crashBeforeMark is after all local work, before the sending mark.
	crashBeforeMark crashPoint = iota + 1
	// crashAfterAccept is after the mail server's 250, before the record.
	crashAfterAccept
)

// errCrashed is a delivery stopped by a test's crash point.
var errCrashed = errors.New("delivery stopped at a simulated crash")

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	Mailer Mailer
	// Webhooks posts to webhook receivers: the guarded outbound client.
	Webhooks *outbound.Client
	Quiet    domain.QuietHours
	Links    Links
	// MessageIDDomain is the right-hand side of Message-IDs.
	MessageIDDomain string
	// EventsURL is the events service's public address, for calendar
	// links in digests; empty leaves them out.
	EventsURL string
	// EmailPerSecond and WebhookPerSecond bound sends per community.
	EmailPerSecond, WebhookPerSecond float64
	// RetryBase is the first retry's delay, doubling after; 0 means 1m.
	RetryBase time.Duration
	// SMTPConnections is how many connections the mailer keeps (0: 4): a
	// batch has at most one e-mail per connection marked sending and not
	// yet answered, so a marked e-mail is one a connection is sending.
	SMTPConnections int
	Tracer          trace.TracerProvider
	Logger          *slog.Logger
}

// NewDeliverer returns a Deliverer recording outcomes in s.
func NewDeliverer(s *store.Store, cfg DelivererConfig) *Deliverer {
	return &Deliverer{
		store: s, mailer: cfg.Mailer, webhooks: cfg.Webhooks, quiet: cfg.Quiet, links: cfg.Links,
		msgIDDomain: cfg.MessageIDDomain, eventsURL: cfg.EventsURL, limits: newLimiters(cfg.EmailPerSecond, cfg.WebhookPerSecond),
		retryBase: cmp.Or(cfg.RetryBase, time.Minute), markWindow: cmp.Or(cfg.SMTPConnections, 4), wake: make(chan struct{}, 1),
		tracer: cfg.Tracer.Tracer("github.com/kinshiphq/kinship/services/communications"), logger: cfg.Logger, now: time.Now,
		deliveries: deliveryCounter(cfg.Tracer), inDoubt: inDoubtCounter(cfg.Tracer),
	}
}

// inDoubtCounter is kinship.communications.in_doubt of the meter paired
// with tp; the name is the catalogue's, so it cannot fail.
func inDoubtCounter(tp trace.TracerProvider) metric.Int64Counter {
	c, _ := telemetry.Int64Counter(telemetry.Meter(telemetry.MeterProviderOf(tp), "github.com/kinshiphq/kinship/services/communications"),
		telemetry.MetricInDoubt)
	return c
}

// crashed says whether a test stops the delivery at point p.
func (d *Deliverer) crashed(p crashPoint) bool {
	return d.crash != nil && d.crash(p)
}

// settleInDoubt applies domain.InDoubtPolicy to e-mail m, claimed with
// the sending mark of an attempt a crash interrupted: it counts and logs
// the message and returns its final outcome when it is not to be resent
// (resend = false). Finding one is what a crash leaves behind, not a
// fault of this process: WARN, not ERROR.
func (d *Deliverer) settleInDoubt(ctx context.Context, m domain.Message) (o store.Outcome, resend bool) {
	policy := domain.InDoubtPolicy(m)
	outcome := "resent"
	if policy != domain.InDoubtResend {
		outcome = "not_resent"
	}
	d.inDoubt.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(
		attribute.String(telemetry.AttrChannel, string(m.Channel)), attribute.String(telemetry.AttrOutcome, outcome)))
	d.logger.WarnContext(ctx, "e-mail in doubt after an interrupted delivery", "community", m.Community, "message_id", m.ID,
		"kind", m.Kind.String(), "attempt", m.SendingAttempt, "sending_since", m.SendingAt, "policy", outcome)
	if policy == domain.InDoubtResend {
		return store.Outcome{}, true
	}
	return store.Outcome{ID: m.ID, Status: domain.StatusInDoubt, Reason: domain.ReasonInDoubt, Retry: true}, false
}

// deliveryCounter is kinship.communications.deliveries of the meter paired
// with tp; the name is the catalogue's, so it cannot fail.
func deliveryCounter(tp trace.TracerProvider) metric.Int64Counter {
	c, _ := telemetry.Int64Counter(telemetry.Meter(telemetry.MeterProviderOf(tp), "github.com/kinshiphq/kinship/services/communications"),
		telemetry.MetricDeliveries)
	return c
}

// count records the outcome of one delivery of m by channel: sent,
// retry, failed, suppressed, or deferred (held for quiet hours).
func (d *Deliverer) count(ctx context.Context, m domain.Message, o store.Outcome) {
	outcome := o.Status.String()
	if o.Status == domain.StatusPending {
		outcome = "deferred"
		if o.Retry {
			outcome = "retry"
		}
	}
	d.deliveries.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(
		attribute.String(telemetry.AttrChannel, string(m.Channel)), attribute.String(telemetry.AttrOutcome, outcome)))
}

// Links makes the signed links messages carry.
type Links struct {
	Key     []byte
	BaseURL string // such as https://kinship.example.org
}

// UnsubscribeURL is the signed one-click link for a member and purpose.
func (l Links) UnsubscribeURL(community, memberID, purpose string, now time.Time) string {
	tok := domain.SignUnsubscribe(l.Key, domain.UnsubscribeToken{Community: community, MemberID: memberID, Purpose: purpose,
		Expires: now.Add(domain.UnsubscribeTTL)})
	return l.BaseURL + "/unsubscribe?t=" + tok
}

// ConfirmURL is the signed link confirming address, carried by confirmation
// message m.
func (l Links) ConfirmURL(m domain.Message, address string, now time.Time) string {
	tok := domain.SignConfirm(l.Key, domain.ConfirmToken{Community: m.Community, MemberID: m.MemberID, MessageID: m.ID,
		Reason: m.Vars["reason"], AddressHash: domain.HashAddress(address), Expires: now.Add(domain.ConfirmTTL)})
	return l.BaseURL + "/confirm?t=" + tok
}

// limiters keeps one token bucket per community and channel.
type limiters struct {
	mu      sync.Mutex
	perSec  map[domain.Channel]float64
	buckets map[string]*rate.Limiter
}

func newLimiters(email, webhook float64) *limiters {
	return &limiters{perSec: map[domain.Channel]float64{domain.ChannelEmail: email, domain.ChannelWebhook: webhook}, buckets: map[string]*rate.Limiter{}}
}

func (l *limiters) wait(ctx context.Context, community string, ch domain.Channel) error {
	l.mu.Lock()
	key := community + "/" + string(ch)
	b, ok := l.buckets[key]
	if !ok {
		r := l.perSec[ch]
		b = rate.NewLimiter(rate.Limit(r), max(1, int(r)))
		l.buckets[key] = b
	}
	l.mu.Unlock()
	return b.Wait(ctx)
}

// batchContext is what one batch of messages shares.
type batchContext struct {
	recipients map[string]domain.Recipient
	suppressed map[string]bool
	templates  map[string]*domain.Compiled // nil: no such template
	webhooks   map[string]domain.Webhook
	// upcoming are the events digests of each community may list.
	upcoming map[string][]domain.UpcomingEvent
}

// prepare loads what a batch of messages needs in a few queries, each
// scoped to the community of the messages it serves.
func (d *Deliverer) prepare(ctx context.Context, msgs []domain.Message) (*batchContext, error) {
	bc := &batchContext{recipients: map[string]domain.Recipient{}, templates: map[string]*domain.Compiled{}, webhooks: map[string]domain.Webhook{},
		upcoming: map[string][]domain.UpcomingEvent{}}
	ids := map[string][]string{}
	for _, m := range msgs {
		if m.MemberID != "" {
			ids[m.Community] = append(ids[m.Community], m.MemberID)
		}
	}
	for community, members := range ids {
		rs, err := d.store.Recipients(ctx, community, members)
		if err != nil {
			return nil, err
		}
		for id, r := range rs {
			bc.recipients[community+"/"+id] = r
		}
	}
	byCommunity := map[string][]string{}
	for _, m := range msgs {
		if addr := bc.address(m); addr != "" {
			byCommunity[m.Community] = append(byCommunity[m.Community], addr)
		}
	}
	bc.suppressed = map[string]bool{}
	for community, emails := range byCommunity {
		got, err := d.store.SuppressedAmong(ctx, community, emails)
		if err != nil {
			return nil, err
		}
		for e := range got {
			bc.suppressed[community+"/"+e] = true
		}
	}
	for _, m := range msgs {
		key := m.Community + "/" + m.Template
		if _, seen := bc.templates[key]; m.Template != "" && !seen {
			t, err := d.store.Template(ctx, m.Community, m.Template)
			if err != nil && !errors.Is(err, domain.ErrTemplateNotFound) {
				return nil, err
			}
			bc.templates[key] = nil // its messages fail: no such template
			if err == nil {
				// Saved templates were validated; one that no longer
				// compiles (saved before a rule existed) fails its
				// messages the same way.
				bc.templates[key], _ = t.Compile()
			}
		}
		if _, seen := bc.upcoming[m.Community]; m.Kind == domain.KindDigest && !seen {
			now := d.now()
			events, err := d.store.Upcoming(ctx, m.Community, now, now.Add(domain.DigestWindow), 200)
			if err != nil {
				return nil, err
			}
			bc.upcoming[m.Community] = events
		}
		if m.Channel == domain.ChannelWebhook {
			if _, seen := bc.webhooks[m.Community+"/"+m.To]; !seen {
				w, err := d.store.Webhook(ctx, m.Community, m.To)
				if err != nil && !errors.Is(err, domain.ErrWebhookNotFound) {
					return nil, err
				}
				bc.webhooks[m.Community+"/"+m.To] = w
			}
		}
	}
	return bc, nil
}

// recipient is the member m is for, from the projection of m's community,
// or nil.
func (bc *batchContext) recipient(m domain.Message) *domain.Recipient {
	if r, ok := bc.recipients[m.Community+"/"+m.MemberID]; ok && m.MemberID != "" {
		return &r
	}
	return nil
}

// address is where an e-mail goes: the member's address in the projection
// (Decide lets it through only once confirmed), or, for a confirmation,
// the address being confirmed.
func (bc *batchContext) address(m domain.Message) string {
	switch {
	case m.Channel == domain.ChannelWebhook:
		return ""
	case m.Kind == domain.KindConfirmation:
		return m.To
	}
	if r := bc.recipient(m); r != nil {
		return r.Email
	}
	return ""
}

// errNoConsent means a message's member withdrew the consent it needs
// while its batch waited: it is suppressed.
var errNoConsent = errors.New("consent withdrawn while waiting")

// deliver decides and, if due, sends one message; it never returns an
// error for the message itself — that is the outcome. With a journal j,
// the sending mark and the hand-off go through its group commits (the
// returned entry, when not nil, tells when the hand-off is committed);
// without one, each is a transaction of its own.
func (d *Deliverer) deliver(ctx context.Context, m domain.Message, bc *batchContext, j *journal) (store.Outcome, *journalEntry, error) {
	o, err := d.deliverOne(ctx, m, bc, j)
	switch {
	case errors.Is(err, errNoConsent):
		o, err = d.suppress(m, domain.ReasonNoConsent)
		return o, nil, err
	case err != nil || m.Channel != domain.ChannelEmail || o.Status != domain.StatusSent:
		return o, nil, err
	case d.crashed(crashAfterAccept):
		return store.Outcome{}, nil, errCrashed
	}
	// The server said 250: record that first, even when the caller has
	// gone — in the journal's next group commit, or on its own.
	o.HandedOff = true
	if j != nil {
		return o, j.handOff(m.Community, o), nil
	}
	if err := d.recordHandOff(ctx, m, o); err != nil {
		return store.Outcome{}, nil, fmt.Errorf("e-mail %s accepted by the mail server but not recorded (it will be found in doubt): %w", m.ID, err)
	}
	return o, nil, nil
}

// recordFor bounds how long the record of what the mail server accepted
// is retried: long enough for a database to restart, well inside the
// messages' lease (2 minutes), after which they would be found in doubt
// and, if transactional, sent again.
const recordFor = 30 * time.Second

// recordHandOff records one accepted e-mail on its own (see record).
func (d *Deliverer) recordHandOff(ctx context.Context, m domain.Message, o store.Outcome) error {
	return d.record(ctx, "e-mail "+m.ID, func(ctx context.Context) error { return d.store.RecordHandOff(ctx, m.Community, o) })
}

// record runs write, a transaction recording outcomes with their events,
// even when the caller has gone, retrying a transient failure (a dropped
// connection, a database restarting, see db.IsTransient) 100 ms later,
// doubling to 2 s, for up to recordFor; any other error ends it at once.
// An attempt whose commit went through unanswered is found by the next
// one: its events are already in the outbox (their ids are unique), so
// the outcomes are recorded. (An outcome without events, a retry
// rescheduled, may then count its attempt twice.)
func (d *Deliverer) record(ctx context.Context, what string, write func(context.Context) error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFor)
	defer cancel()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := write(rctx)
		switch {
		case err == nil:
			return nil
		case attempt > 1 && db.IsUniqueViolation(err):
			return nil
		case !db.IsTransient(err):
			return err
		}
		d.logger.WarnContext(ctx, "recording delivery outcomes failed; retrying", "of", what, "attempt", attempt, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-rctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// deliverOne is deliver up to the mail server's answer.
func (d *Deliverer) deliverOne(ctx context.Context, m domain.Message, bc *batchContext, j *journal) (store.Outcome, error) {
	now := d.now().UTC().Truncate(time.Microsecond)
	if m.Channel == domain.ChannelEmail && !m.SendingAt.IsZero() {
		o, resend := d.settleInDoubt(ctx, m)
		if !resend {
			return o, nil
		}
		m.Attempts++ // the interrupted attempt, counted by MarkSending
	}
	r := bc.recipient(m)
	to := bc.address(m)
	decision := domain.Decide(m, r, to != "" && bc.suppressed[m.Community+"/"+strings.ToLower(to)], d.quiet, now)
	switch {
	case decision.Suppress:
		return d.suppress(m, decision.Reason)
	case !decision.HoldUntil.IsZero():
		return store.Outcome{ID: m.ID, Status: domain.StatusPending, DueAt: decision.HoldUntil, Reason: "quiet hours"}, nil
	case m.Channel == domain.ChannelEmail && to == "":
		return d.suppress(m, domain.ReasonNoAddress)
	}
	var events []domain.EventData
	if m.Kind == domain.KindDigest {
		if events = domain.DigestEvents(bc.upcoming[m.Community], r, now, d.eventsURL); len(events) == 0 {
			return d.suppress(m, domain.ReasonNothingToSend)
		}
	}
	rendered, err := d.render(m, r, to, events, bc, now)
	if err != nil {
		return d.fail(m, err.Error())
	}
	if err := d.limits.wait(ctx, m.Community, m.Channel); err != nil {
		return store.Outcome{}, err
	}
	var sendErr error
	var permanent bool
	if m.Channel == domain.ChannelWebhook {
		permanent, sendErr = d.post(ctx, m, bc.webhooks[m.Community+"/"+m.To], rendered, now)
	} else {
		env := d.envelope(m, to, rendered, now)
		// Marked sending, durably, before the hand-off: a crash from the
		// mark to the hand-off's record leaves the message in doubt; one
		// before it, untried. The mark stores only while the message is
		// pending and its member still consents (the batch was read a
		// while ago). In a batch the mark goes to the journal once its
		// window (one per SMTP connection) has room, committed with the
		// other workers' marks; the hand-off waits for it. On its own the
		// mark is taken once the connection is ready.
		var markErr error
		marked, settled, err := d.markSending(ctx, m, now, j)
		if err != nil {
			return store.Outcome{}, err
		}
		env.BeforeHandOff = func(ctx context.Context) error {
			markErr = marked(ctx)
			return markErr
		}
		sendErr = d.mailer.Send(ctx, env)
		settled()
		if markErr != nil {
			return store.Outcome{}, markErr
		}
		var de *mail.DeliveryError
		permanent = errors.As(sendErr, &de) && !de.Temporary
	}
	switch {
	case sendErr == nil:
		m.SentAt = now
		e, err := d.events.MessageSent(m)
		if err != nil {
			return store.Outcome{}, err
		}
		o := store.Outcome{ID: m.ID, Status: domain.StatusSent, At: now, To: to, Subject: rendered.Subject, Text: rendered.Text, HTML: rendered.HTML,
			Events: []kafka.Event{e}}
		return o, nil
	case permanent:
		return d.fail(m, sendErr.Error())
	case m.Attempts+1 >= domain.MaxAttempts:
		m.Attempts++
		return d.fail(m, "out of retries: "+sendErr.Error())
	}
	d.logger.WarnContext(ctx, "delivery failed; will retry", "message_id", m.ID, "attempt", m.Attempts+1, "error", sendErr)
	return store.Outcome{ID: m.ID, Status: domain.StatusPending, Retry: true, Reason: sendErr.Error(),
		DueAt: now.Add(domain.Backoff(d.retryBase, m.Attempts+1))}, nil
}

// markSending returns the wait that stores the sending mark of m's next
// attempt: through the journal j, submitted at once (within the journal's
// window) and committed with other marks, or, without one, on its own
// when waited for. The wait returns errSettled for a message no longer
// pending and errNoConsent for one whose member withdrew the consent it
// needs. The caller calls settled once the mail server answered or the
// message was not handed over: it gives the mark's place in the journal's
// window back.
func (d *Deliverer) markSending(ctx context.Context, m domain.Message, now time.Time, j *journal) (
	marked func(context.Context) error, settled func(), err error) {
	settled = func() {}
	if d.crashed(crashBeforeMark) {
		return func(context.Context) error { return errCrashed }, settled, nil
	}
	wait := func(ctx context.Context) (bool, error) { return d.store.MarkSending(ctx, m, m.Attempts+1, now) }
	if j != nil {
		e, err := j.mark(ctx, m, m.Attempts+1, now)
		if err != nil {
			return nil, nil, err
		}
		settled = j.settled
		wait = func(context.Context) (bool, error) {
			err := e.wait()
			return e.marked, err
		}
	}
	return func(ctx context.Context) error {
		marked, err := wait(ctx)
		if err != nil || marked {
			return err
		}
		// Not marked: find out why (rare, so not worth a read per message).
		due, reason, err := d.store.StillDue(ctx, m, m.Kind.Purpose())
		switch {
		case err != nil:
			return err
		case !due && reason == domain.ReasonNoConsent:
			return errNoConsent
		}
		// No longer pending; or pending and consenting again by now, which
		// its next turn will find.
		return errSettled
	}, settled, nil
}

func (d *Deliverer) suppress(m domain.Message, reason string) (store.Outcome, error) {
	e, err := d.events.MessageSuppressed(m, reason)
	if err != nil {
		return store.Outcome{}, err
	}
	return store.Outcome{ID: m.ID, Status: domain.StatusSuppressed, Reason: reason, Events: []kafka.Event{e}}, nil
}

func (d *Deliverer) fail(m domain.Message, reason string) (store.Outcome, error) {
	e, err := d.events.MessageFailed(m, reason)
	if err != nil {
		return store.Outcome{}, err
	}
	return store.Outcome{ID: m.ID, Status: domain.StatusFailed, Reason: reason, Retry: true, Events: []kafka.Event{e}}, nil
}

// render fills the message from its template for the recipient, or takes
// its stored content; to is the address it goes to.
func (d *Deliverer) render(m domain.Message, r *domain.Recipient, to string, events []domain.EventData, bc *batchContext, now time.Time) (domain.Rendered, error) {
	if m.Template == "" {
		return domain.Rendered{Subject: m.Subject, Text: m.Text, HTML: m.HTML}, nil
	}
	t := bc.templates[m.Community+"/"+m.Template]
	if t == nil {
		return domain.Rendered{}, fmt.Errorf("template %q does not exist or breaks the template rules", m.Template)
	}
	data := domain.TemplateData{Community: m.Community, Vars: m.Vars, Events: events}
	if len(events) > 0 {
		data.Event = events[0]
	}
	if r != nil {
		data.Member = domain.MemberData{ID: r.MemberID, DisplayName: r.DisplayName, Email: r.Email, Locale: r.Locale}
	}
	if p := m.Kind.Purpose(); p != "" && m.MemberID != "" {
		data.UnsubscribeURL = d.links.UnsubscribeURL(m.Community, m.MemberID, p, now)
	}
	if m.Kind == domain.KindConfirmation {
		data.Member.ID, data.Member.Email = m.MemberID, to
		data.ConfirmURL = d.links.ConfirmURL(m, to, now)
	}
	return t.Render(data)
}

// envelope builds the e-mail; non-transactional mail carries RFC 8058
// one-click unsubscribe headers.
func (d *Deliverer) envelope(m domain.Message, to string, r domain.Rendered, now time.Time) mail.Envelope {
	env := mail.Envelope{MessageID: m.ID + "@" + d.msgIDDomain, To: to, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		Headers: map[string]string{"X-Kinship-Community": m.Community}}
	if p := m.Kind.Purpose(); p != "" && m.MemberID != "" {
		env.Headers["List-Unsubscribe"] = "<" + d.links.UnsubscribeURL(m.Community, m.MemberID, p, now) + ">"
		env.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	}
	return env
}

// post sends a message to a webhook, signed, through the guarded outbound
// client. A 410 disables the webhook for good; other 4xx, 3xx (redirects
// are not followed) and a refused destination fail the message; 5xx, 429
// and network errors retry. The reasons recorded say what happened in
// words that tell nothing about the destination's network.
func (d *Deliverer) post(ctx context.Context, m domain.Message, w domain.Webhook, r domain.Rendered, now time.Time) (permanent bool, err error) {
	if w.ID == "" || !w.Enabled {
		return true, errors.New("webhook deleted or disabled")
	}
	ctx, span := d.tracer.Start(ctx, "webhook post", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("kinship.webhook.id", w.ID), attribute.String("kinship.message.id", m.ID)))
	defer span.End()
	body, err := w.Payload(m.Community, r.Subject, r.Text, now)
	if err != nil {
		return true, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return true, errors.New("refused: not a valid destination URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(domain.HeaderSignature, domain.Sign(w.Secret, body, now))
	telemetry.Propagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	res, err := d.webhooks.Do(req)
	if err != nil {
		span.SetStatus(codes.Error, "post failed")
		// The cause (which may say whether a port is open) goes to the
		// log only; the delivery log gets the outbound client's words.
		d.logger.WarnContext(ctx, "webhook post failed", "webhook_id", w.ID, "message_id", m.ID, "cause", errors.Unwrap(err))
		return errors.Is(err, outbound.ErrNotAllowed), err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusGone:
		if err := d.store.DisableWebhook(ctx, m.Community, w.ID, "receiver answered 410 Gone"); err != nil {
			return false, err
		}
		d.logger.WarnContext(ctx, "webhook disabled: receiver is gone", "webhook_id", w.ID)
		return true, errors.New("HTTP 410 Gone from the destination; webhook disabled")
	case code == http.StatusTooManyRequests:
		return false, errors.New("HTTP 429 from the destination")
	case code >= 500:
		return false, errors.New("HTTP 5xx from the destination")
	case code >= 300 && code < 400:
		return true, errors.New("HTTP 3xx from the destination (redirects are not followed)")
	}
	return true, errors.New("HTTP 4xx from the destination")
}

// deliverBatch delivers msgs, claimed and prepared (bc), with up to
// workers in parallel and records the outcomes. The e-mails' sending marks
// and hand-offs go through a journal of group commits while the batch
// runs; the other outcomes are recorded together at the end. fed, when
// set, is called once the last message went to a worker, while the
// batch's last e-mails are still being sent.
func (d *Deliverer) deliverBatch(ctx context.Context, msgs []domain.Message, bc *batchContext, workers int, fed func()) error {
	j := startJournal(ctx, d.store, d.store.Writers(), d.markWindow, d.crashCommit)
	outcomes := make([]store.Outcome, len(msgs))
	handOffs := make([]*journalEntry, len(msgs))
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				outcomes[i], handOffs[i], errs[i] = d.deliver(ctx, msgs[i], bc, j)
			}
		})
	}
	for i := range msgs {
		next <- i
	}
	close(next)
	if fed != nil {
		fed()
	}
	wg.Wait()
	j.close()
	if j.crashed() {
		// A test's crash point: the process is gone, nothing more is recorded.
		return errCrashed
	}
	var done []store.Outcome
	for i, o := range outcomes {
		if h := handOffs[i]; h != nil && h.wait() != nil {
			// The group commit failed: record the 250 with the batch below
			// (if that fails too, the message is found in doubt).
			d.logger.WarnContext(ctx, "recording a hand-off failed; recording it with the batch", "message_id", msgs[i].ID, "error", h.err)
			o.HandedOff = false
		}
		switch {
		case errs[i] == nil:
			done = append(done, o)
			d.count(ctx, msgs[i], o)
		case errors.Is(errs[i], errSettled):
			errs[i] = nil
		}
	}
	if err := d.record(ctx, fmt.Sprintf("a batch of %d", len(done)), func(ctx context.Context) error { return d.store.Record(ctx, done) }); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// Wake tells the dispatch loop that messages were queued.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Dispatch sends due messages until ctx ends, polling every interval when
// nothing is due, or sooner when woken. The next batch is claimed and
// prepared while the last e-mails of the current one are being sent, so
// the connections do not wait for the database between batches; it is
// claimed no earlier, so its lease does not run while a whole batch goes
// out before it.
func (d *Deliverer) Dispatch(ctx context.Context, batch, workers int, interval time.Duration) error {
	var ahead chan claimedBatch
	for ctx.Err() == nil {
		var c claimedBatch
		if ahead != nil {
			c, ahead = <-ahead, nil
		} else {
			c = d.claim(ctx, batch)
		}
		err := c.err
		if err == nil && len(c.msgs) > 0 {
			err = d.deliverBatch(ctx, c.msgs, c.bc, workers, func() {
				ahead = make(chan claimedBatch, 1)
				go func() { ahead <- d.claim(ctx, batch) }()
			})
		}
		n := len(c.msgs)
		switch {
		case err == nil || ctx.Err() != nil:
		case n == 0:
			d.logger.WarnContext(ctx, "reading due messages failed", "error", err)
		default:
			d.logger.WarnContext(ctx, "delivering a batch failed", "messages", n, "error", err)
		}
		if n == 0 {
			d.sleep(ctx, interval)
		}
	}
	if ahead != nil {
		<-ahead // claimed as the process stops: its lease runs out
	}
	return nil
}

// claimedBatch is a batch of due messages claimed under a lease, with the
// context its delivery needs.
type claimedBatch struct {
	msgs []domain.Message
	bc   *batchContext
	err  error
}

// claim claims up to batch due messages and loads what their delivery
// needs.
func (d *Deliverer) claim(ctx context.Context, batch int) claimedBatch {
	msgs, err := d.store.Due(ctx, d.now(), batch, dispatchLease)
	if err != nil || len(msgs) == 0 {
		return claimedBatch{err: err}
	}
	bc, err := d.prepare(ctx, msgs)
	return claimedBatch{msgs: msgs, bc: bc, err: err}
}

// dispatchLease is how long the dispatcher holds the messages of a batch:
// one found pending after it ran out was abandoned by a stopped process
// (and, when marked sending, is in doubt).
const dispatchLease = 2 * time.Minute

// dispatchOnce claims one batch of due messages and delivers it; n is how
// many it claimed.
func (d *Deliverer) dispatchOnce(ctx context.Context, batch, workers int) (n int, err error) {
	c := d.claim(ctx, batch)
	if c.err != nil || len(c.msgs) == 0 {
		return 0, c.err
	}
	return len(c.msgs), d.deliverBatch(ctx, c.msgs, c.bc, workers, nil)
}

func (d *Deliverer) sleep(ctx context.Context, interval time.Duration) {
	t := time.NewTimer(interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-d.wake:
	}
}

// DeliverNow delivers one claimed message at once and records the outcome.
func (d *Deliverer) DeliverNow(ctx context.Context, m domain.Message) (store.Outcome, error) {
	bc, err := d.prepare(ctx, []domain.Message{m})
	if err != nil {
		return store.Outcome{}, err
	}
	o, _, err := d.deliver(ctx, m, bc, nil)
	if errors.Is(err, errSettled) {
		return store.Outcome{ID: m.ID, Status: domain.StatusSuppressed}, nil
	}
	if err != nil {
		return o, err
	}
	d.count(ctx, m, o)
	// The outcome is recorded even when the caller has gone: the e-mail is
	// out (a hand-off was recorded already, see deliver).
	if o.HandedOff {
		return o, nil
	}
	return o, d.record(ctx, "message "+m.ID, func(ctx context.Context) error { return d.store.Record(ctx, []store.Outcome{o}) })
}
