package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/events"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// HistorySource is one history a rebuild reads, in batches.
type HistorySource struct {
	// Name is the service: members, events, communications, partners.
	Name string
	Read func(ctx context.Context, community string, each func([]*insightsv1.HistoryRecord) error) error
}

// ConnectHistory reads a service's HistoryService.
func ConnectHistory(name string, c insightsv1connect.HistoryServiceClient) HistorySource {
	return HistorySource{Name: name, Read: func(ctx context.Context, community string, each func([]*insightsv1.HistoryRecord) error) error {
		stream, err := c.ReadHistory(ctx, connect.NewRequest(&insightsv1.ReadHistoryRequest{Community: community}))
		if err != nil {
			return err
		}
		defer stream.Close()
		for stream.Receive() {
			if err := each(stream.Msg().GetRecords()); err != nil {
				return err
			}
		}
		return stream.Err()
	}}
}

// StaticHistory is a history held in memory, such as the dev stack's
// synthetic demo history: records of one community, read as name.
func StaticHistory(name, community string, records []*insightsv1.HistoryRecord) HistorySource {
	return HistorySource{Name: name, Read: func(_ context.Context, c string, each func([]*insightsv1.HistoryRecord) error) error {
		if c != community {
			return nil
		}
		for i := 0; i < len(records); i += 1000 {
			if err := each(records[i:min(i+1000, len(records))]); err != nil {
				return err
			}
		}
		return nil
	}}
}

// Rebuilder forgets a community's facts and reads them again from the
// services' histories.
type Rebuilder struct {
	store   *store.Store
	gate    *events.Gate
	sources []HistorySource
	logger  *slog.Logger
	now     func() time.Time
	// nominations, when set, are read too: the ambassador programme's.
	nominations NominationSource

	mu      sync.Mutex
	running map[string]bool
}

// NewRebuilder rebuilds s from sources, pausing the projection through
// gate meanwhile.
func NewRebuilder(s *store.Store, gate *events.Gate, sources []HistorySource, logger *slog.Logger, now func() time.Time) *Rebuilder {
	if now == nil {
		now = time.Now
	}
	return &Rebuilder{store: s, gate: gate, sources: sources, logger: logger, now: now, running: map[string]bool{}}
}

// WithNominations makes every rebuild read the ambassador programme's
// nominations from src as well.
func (r *Rebuilder) WithNominations(src NominationSource) *Rebuilder {
	r.nominations = src
	return r
}

var (
	errNoSources  = errors.New("no history sources are configured: set the members, events, communications and partners URLs")
	errRebuilding = errors.New("a rebuild of the community is running")
)

// Count is how many records of a kind a source gave.
type Count struct {
	Source, Kind string
	Records      int64
}

// RebuildResult says what a rebuild read.
type RebuildResult struct {
	Counts []Count
	// Estimated counts members who left or were erased at a time the
	// history did not give.
	Estimated int64
	Took      time.Duration
	// Read is how long reading and storing the histories took; the rest
	// of Took went to recomputing the series.
	Read time.Duration
}

// flushAt is how many facts are written at once.
const flushAt = 20_000

// Rebuild replaces community's facts with the services' histories in one
// transaction (with audit), then recomputes every bucket; the projection
// waits meanwhile and goes on from Kafka afterwards. progress, when set,
// is told how many records were read so far.
func (r *Rebuilder) Rebuild(ctx context.Context, community string, audit store.Audit, progress func(read int64)) (RebuildResult, error) {
	var res RebuildResult
	if len(r.sources) == 0 {
		return res, errNoSources
	}
	r.mu.Lock()
	if r.running[community] {
		r.mu.Unlock()
		return res, errRebuilding
	}
	r.running[community] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.running, community)
		r.mu.Unlock()
	}()
	start := r.now()
	defer r.gate.Lock(community)()
	err := r.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		res.Counts, res.Estimated = nil, 0
		if err := r.store.LockCommunity(ctx, tx, community, true); err != nil {
			return err
		}
		if err := r.store.PrepareBulk(ctx, tx); err != nil {
			return err
		}
		if err := r.store.Wipe(ctx, tx, community); err != nil {
			return err
		}
		c := &converter{now: start.UTC(), community: community, partners: map[string]*domain.Partner{}, members: map[string]*domain.Member{}, progress: progress}
		for _, src := range r.sources {
			counts, err := r.read(ctx, tx, community, src, c)
			if err != nil {
				return err
			}
			res.Counts = append(res.Counts, counts...)
		}
		if r.nominations != nil {
			var n int64
			if err := r.nominations(ctx, community, func(batch []domain.Nomination) error {
				n += int64(len(batch))
				return r.store.SaveNominations(ctx, tx, community, batch)
			}); err != nil {
				return fmt.Errorf("read journeys nominations: %w", err)
			}
			res.Counts = append(res.Counts, Count{Source: "journeys", Kind: "nomination", Records: n})
		}
		res.Read = time.Since(start)
		// Members go in last, with the onboarding steps the other
		// histories told of them.
		last := &store.Batch{}
		for _, p := range c.partners {
			last.Partners = append(last.Partners, *p)
		}
		for _, m := range c.members {
			last.Members = append(last.Members, *m)
		}
		if err := r.store.Put(ctx, tx, community, last); err != nil {
			return err
		}
		n, err := r.store.EstimateEndings(ctx, tx, community, c.unknownEnds)
		if err != nil {
			return err
		}
		res.Estimated = n
		if err := r.store.Recompute(ctx, tx, community); err != nil {
			return err
		}
		if err := r.store.MarkRebuilt(ctx, tx, community, start); err != nil {
			return err
		}
		return audit(tx)
	})
	if err == nil {
		if oerr := r.store.Optimize(ctx); oerr != nil && r.logger != nil {
			r.logger.WarnContext(ctx, "refreshing planner statistics failed", "error", oerr)
		}
	}
	res.Took = r.now().Sub(start)
	return res, err
}

// read puts one source's history into tx. The source is read in its own
// goroutine, a few batches ahead of the writes.
func (r *Rebuilder) read(ctx context.Context, tx *sql.Tx, community string, src HistorySource, c *converter) ([]Count, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*insightsv1.HistoryRecord, 8)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- src.Read(ctx, community, func(records []*insightsv1.HistoryRecord) error {
			select {
			case batches <- records:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	counts := map[string]int64{}
	b := &store.Batch{}
	var err error
	for records := range batches {
		if err != nil {
			continue // drain, so the reader can end
		}
		for _, rec := range records {
			kind, aerr := c.add(b, rec)
			if aerr != nil {
				err = aerr
				cancel()
				break
			}
			counts[kind]++
		}
		c.read += int64(len(records))
		if c.progress != nil {
			c.progress(c.read)
		}
		if err == nil && b.Len() >= flushAt {
			if err = r.store.Put(ctx, tx, community, b); err != nil {
				cancel()
			}
			b = &store.Batch{}
		}
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("read %s history: %w", src.Name, err)
	}
	if err := r.store.Put(ctx, tx, community, b); err != nil {
		return nil, err
	}
	var out []Count
	for k, n := range counts {
		out = append(out, Count{Source: src.Name, Kind: k, Records: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.Kind < b.Kind {
			return -1
		}
		return 1
	})
	return out, nil
}

// converter turns history records into facts. Times a history cannot
// know are dated to the rebuild, so an older event read later from Kafka
// does not undo what the history said.
type converter struct {
	now         time.Time
	community   string
	partners    map[string]*domain.Partner
	members     map[string]*domain.Member
	unknownEnds []store.UnknownEnd
	read        int64
	progress    func(int64)
}

func ts(t interface{ AsTime() time.Time }, set bool) time.Time {
	if !set {
		return time.Time{}
	}
	return t.AsTime().UTC()
}

var attendanceStatus = map[insightsv1.AttendanceStatus]domain.AttendanceStatus{
	insightsv1.AttendanceStatus_ATTENDANCE_STATUS_GOING: domain.AttendanceGoing, insightsv1.AttendanceStatus_ATTENDANCE_STATUS_WAITLISTED: domain.AttendanceWaitlisted,
	insightsv1.AttendanceStatus_ATTENDANCE_STATUS_OFFERED: domain.AttendanceOffered, insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CHECKED_IN: domain.AttendanceCheckedIn,
	insightsv1.AttendanceStatus_ATTENDANCE_STATUS_NO_SHOW: domain.AttendanceNoShow, insightsv1.AttendanceStatus_ATTENDANCE_STATUS_NOT_GOING: domain.AttendanceNotGoing,
	insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CANCELLED: domain.AttendanceCancelled, insightsv1.AttendanceStatus_ATTENDANCE_STATUS_OFFER_EXPIRED: domain.AttendanceOfferExpired,
}

// add puts one record into b and names its kind.
func (c *converter) add(b *store.Batch, rec *insightsv1.HistoryRecord) (string, error) {
	switch f := rec.GetFact().(type) {
	case *insightsv1.HistoryRecord_Member:
		m := f.Member
		if m.GetMemberId() == "" || m.GetJoinedAt() == nil {
			return "", errors.New("a member fact lacks its id or joining time")
		}
		mm := c.member(m.GetMemberId())
		mm.JoinedAt, mm.Level, mm.ProfileAt = m.GetJoinedAt().AsTime().UTC(), m.GetLevel(), c.now
		mm.ProfileComplete, mm.ProfileCompletedAt = m.GetProfileComplete(), ts(m.GetProfileCompletedAt(), m.GetProfileCompletedAt() != nil)
		left := ts(m.GetLeftAt(), m.GetLeftAt() != nil)
		switch m.GetStatus() {
		case insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_LEFT:
			mm.LeftAt = left
		case insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_ERASED:
			mm.ErasedAt = left
		}
		if m.GetStatus() != insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_ERASED {
			mm.CountryCode = m.GetCountryCode()
			mm.Interests = slices.Compact(slices.Sorted(slices.Values(m.GetInterests())))
		}
		if ended := m.GetStatus() == insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_LEFT || m.GetStatus() == insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_ERASED; ended && left.IsZero() {
			c.unknownEnds = append(c.unknownEnds, store.UnknownEnd{MemberID: mm.ID, Erased: m.GetStatus() == insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_ERASED})
		}
		return "member", nil
	case *insightsv1.HistoryRecord_Activity:
		a := f.Activity
		if a.GetActivityId() == "" || a.GetMemberId() == "" || a.GetOccurredAt() == nil {
			return "", errors.New("an activity fact lacks its id, member or time")
		}
		act := store.Activity{ID: a.GetActivityId(), MemberID: a.GetMemberId(), Type: a.GetType(), At: a.GetOccurredAt().AsTime().UTC()}
		b.Activities = append(b.Activities, act)
		m := c.member(act.MemberID)
		if act.Type == store.ActivityOnboarded {
			m.OnboardedAt = domain.Earliest(m.OnboardedAt, act.At)
		}
		return "activity", nil
	case *insightsv1.HistoryRecord_Role:
		r := f.Role
		if r.GetMemberId() == "" || r.GetRole() == "" {
			return "", errors.New("a role fact lacks its member or role")
		}
		role := domain.Role{MemberID: r.GetMemberId(), Role: r.GetRole()}
		if r.GetAssignedAt() != nil {
			role.Add(domain.RoleChange{At: r.GetAssignedAt().AsTime().UTC(), Assigned: true, Tier: r.GetTier()})
		}
		if r.GetRevokedAt() != nil {
			role.Add(domain.RoleChange{At: r.GetRevokedAt().AsTime().UTC()})
		}
		b.Roles = append(b.Roles, role)
		return "role", nil
	case *insightsv1.HistoryRecord_Occurrence:
		o := f.Occurrence
		if o.GetOccurrenceId() == "" || o.GetStartTime() == nil {
			return "", errors.New("an occurrence fact lacks its id or start")
		}
		b.Occurrences = append(b.Occurrences, domain.Occurrence{ID: o.GetOccurrenceId(), EventID: o.GetEventId(), Start: o.GetStartTime().AsTime().UTC(),
			End: ts(o.GetEndTime(), o.GetEndTime() != nil), Known: true, Cancelled: o.GetCancelled(), Version: c.now})
		return "occurrence", nil
	case *insightsv1.HistoryRecord_Attendance:
		a := f.Attendance
		if a.GetOccurrenceId() == "" || a.GetMemberId() == "" {
			return "", errors.New("an attendance fact lacks its occurrence or member")
		}
		at := domain.Attendance{OccurrenceID: a.GetOccurrenceId(), MemberID: a.GetMemberId(), EventID: a.GetEventId(), Status: attendanceStatus[a.GetStatus()],
			StatusAt: ts(a.GetUpdatedAt(), a.GetUpdatedAt() != nil), Waitlisted: a.GetWaitlisted(), CheckedInAt: ts(a.GetCheckedInAt(), a.GetCheckedInAt() != nil)}
		if at.Status == domain.AttendanceNoShow {
			at.NoShowAt = at.StatusAt
		}
		if !at.CheckedInAt.IsZero() {
			m := c.member(at.MemberID)
			m.FirstEventAt = domain.Earliest(m.FirstEventAt, at.CheckedInAt)
		}
		if r := a.GetRating(); r >= 1 && r <= 5 {
			at.Rating, at.RatedAt = int(r), ts(a.GetRatedAt(), a.GetRatedAt() != nil)
		}
		b.Attendance = append(b.Attendance, at)
		return "attendance", nil
	case *insightsv1.HistoryRecord_Message:
		m := f.Message
		if m.GetMessageId() == "" {
			return "", errors.New("a message fact lacks its id")
		}
		msg := domain.Message{ID: m.GetMessageId(), MemberID: m.GetMemberId(), Channel: m.GetChannel(), IdempotencyKey: m.GetIdempotencyKey()}
		settled := ts(m.GetSettledAt(), m.GetSettledAt() != nil)
		switch m.GetState() {
		case insightsv1.MessageStateFact_MESSAGE_STATE_FACT_SENT:
			msg.SentAt = ts(m.GetSentAt(), m.GetSentAt() != nil)
		case insightsv1.MessageStateFact_MESSAGE_STATE_FACT_BOUNCED:
			msg.SentAt = ts(m.GetSentAt(), m.GetSentAt() != nil)
			msg.BouncedAt = domain.Earliest(settled, msg.SentAt)
		case insightsv1.MessageStateFact_MESSAGE_STATE_FACT_FAILED:
			msg.FailedAt = settled
		}
		b.Messages = append(b.Messages, msg)
		if !msg.SentAt.IsZero() && domain.WelcomeFor(msg.IdempotencyKey, c.community, msg.MemberID) {
			m := c.member(msg.MemberID)
			m.WelcomedAt = domain.Earliest(m.WelcomedAt, msg.SentAt)
		}
		return "message", nil
	case *insightsv1.HistoryRecord_Unsubscribe:
		u := f.Unsubscribe
		if u.GetMemberId() == "" || u.GetOccurredAt() == nil {
			return "", errors.New("an unsubscribe fact lacks its member or time")
		}
		b.Unsubscribes = append(b.Unsubscribes, domain.Unsubscribe{MemberID: u.GetMemberId(), Purpose: u.GetPurpose(), At: u.GetOccurredAt().AsTime().UTC()})
		return "unsubscribe", nil
	case *insightsv1.HistoryRecord_Partner:
		p := f.Partner
		if p.GetPartnerId() == "" {
			return "", errors.New("a partner fact lacks its id")
		}
		c.partner(p.GetPartnerId()).AddedAt = ts(p.GetAddedAt(), p.GetAddedAt() != nil)
		return "partner", nil
	case *insightsv1.HistoryRecord_PartnerMove:
		mv := f.PartnerMove
		if mv.GetPartnerId() == "" || mv.GetToStage() == "" || mv.GetChangedAt() == nil {
			return "", errors.New("a partner move lacks its partner, stage or time")
		}
		c.partner(mv.GetPartnerId()).AddMove(domain.Move{At: mv.GetChangedAt().AsTime().UTC(), Stage: mv.GetToStage()})
		return "partner_move", nil
	case *insightsv1.HistoryRecord_Agreement:
		a := f.Agreement
		start, _, e1 := domain.ParseDay("start_date", a.GetStartDate())
		end, hasEnd, e2 := domain.ParseDay("end_date", a.GetEndDate())
		signed, isSigned, e3 := domain.ParseDay("signed_on", a.GetSignedOn())
		ended, isEnded, e4 := domain.ParseDay("ended_on", a.GetEndedOn())
		if a.GetAgreementId() == "" || e1 != nil || e2 != nil || e3 != nil || e4 != nil {
			return "", errors.New("an agreement fact lacks its id or has bad dates")
		}
		b.Agreements = append(b.Agreements, domain.Agreement{ID: a.GetAgreementId(), PartnerID: a.GetPartnerId(), Start: start, End: end, HasEnd: hasEnd,
			SignedOn: signed, Signed: isSigned, EndedOn: ended, Ended: isEnded, Version: c.now})
		return "agreement", nil
	case *insightsv1.HistoryRecord_Contribution:
		ct := f.Contribution
		day, ok, ferr := domain.ParseDay("date", ct.GetDate())
		if ct.GetContributionId() == "" || ferr != nil || !ok {
			return "", errors.New("a contribution fact lacks its id or date")
		}
		b.Contributions = append(b.Contributions, domain.Contribution{ID: ct.GetContributionId(), PartnerID: ct.GetPartnerId(), Kind: ct.GetKind(), Day: day,
			Currency: ct.GetCurrencyCode(), AmountMinor: ct.GetAmountMinor(), VolunteerMinutes: ct.GetVolunteerMinutes()})
		return "contribution", nil
	}
	return "", errors.New("a history record holds no fact this service knows; is it older than the source?")
}

// member is the member of id as the histories tell of it: from the
// members service's history, and the onboarding steps the others give.
func (c *converter) member(id string) *domain.Member {
	m, ok := c.members[id]
	if !ok {
		m = &domain.Member{ID: id}
		c.members[id] = m
	}
	return m
}

func (c *converter) partner(id string) *domain.Partner {
	p, ok := c.partners[id]
	if !ok {
		p = &domain.Partner{ID: id}
		c.partners[id] = p
	}
	return p
}
