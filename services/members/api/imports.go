package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/csvout"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// importBatch is how many rows go in one transaction.
const importBatch = 500

// maxReportedErrors bounds the errors an import returns.
const maxReportedErrors = 1000

// ImportMembers reads a CSV stream and creates or updates members by
// e-mail address.
func (h *Handler) ImportMembers(ctx context.Context, stream *connect.ClientStream[membersv1.ImportMembersRequest]) (*connect.Response[membersv1.ImportMembersResponse], error) {
	spec := stream.Spec()
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, h.toConnect(ctx, spec, err)
		}
		return nil, h.toConnect(ctx, spec, fieldRequired("chunk"))
	}
	head := stream.Msg()
	community, err := auth.Confine(ctx, head.GetCommunity())
	if err != nil {
		return nil, err
	}
	if community, err = communityOf(community); err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	settings, err := h.store.Settings(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	imp := &importer{h: h, community: community, settings: settings, dryRun: head.GetDryRun(),
		res: &membersv1.ImportMembersResponse{DryRun: head.GetDryRun()}}
	file, err := spool(&chunkReader[membersv1.ImportMembersRequest]{first: head.GetChunk(), stream: stream,
		chunk: (*membersv1.ImportMembersRequest).GetChunk})
	if err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	defer file.Close()
	if err := imp.run(ctx, domain.NewRecordReader(file)); err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	h.logger.InfoContext(ctx, "members imported", "community", community, "rows", imp.res.Rows, "created", imp.res.Created,
		"updated", imp.res.Updated, "failed", imp.res.Failed, "dry_run", imp.dryRun)
	return connect.NewResponse(imp.res), nil
}

// chunkReader reads the chunks of a client stream as one byte stream.
type chunkReader[T any] struct {
	first  []byte
	stream *connect.ClientStream[T]
	chunk  func(*T) []byte
	buf    []byte
	done   bool
}

func (r *chunkReader[T]) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.first != nil {
			r.buf, r.first = r.first, nil
			continue
		}
		if r.done || !r.stream.Receive() {
			r.done = true
			if err := r.stream.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		r.buf = r.chunk(r.stream.Msg())
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

type importer struct {
	h         *Handler
	community string
	settings  domain.Settings
	dryRun    bool
	res       *membersv1.ImportMembersResponse
}

// errTooManyRows refuses an import past its limit (see spool).
var errTooManyRows = fmt.Errorf("imports take at most %d rows; split the file", domain.MaxImportRows)

func (imp *importer) run(ctx context.Context, rr *domain.RecordReader) error {
	rec, line, err := rr.Next()
	var rowErr *domain.RowError
	switch {
	case errors.Is(err, io.EOF):
		return fieldInvalid("chunk", "the CSV is empty; it needs a header row")
	case errors.As(err, &rowErr):
		return fieldInvalid("chunk", rowErr.Error())
	case err != nil:
		return err
	}
	header, err := domain.ParseImportHeader(rec)
	if err != nil {
		return fieldInvalid("chunk", fmt.Sprintf("line %d: %v", line, err))
	}
	var batch []domain.ImportRow
	for {
		rec, line, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &rowErr) {
			imp.res.Rows++
			imp.fail(*rowErr)
			continue
		}
		if err != nil {
			return err
		}
		imp.res.Rows++
		row, errs := header.Row(line, rec, imp.settings)
		if len(errs) > 0 {
			imp.fail(errs...)
			continue
		}
		if batch = append(batch, row); len(batch) == importBatch {
			if err := imp.flush(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return imp.flush(ctx, batch)
}

func (imp *importer) fail(errs ...domain.RowError) {
	imp.res.Failed++
	for _, e := range errs {
		if len(imp.res.Errors) < maxReportedErrors {
			imp.res.Errors = append(imp.res.Errors, &membersv1.ImportError{Line: e.Line, Field: e.Field, Reason: e.Reason})
		}
	}
}

// flush plans a batch against what is stored and applies it; when a
// concurrent join takes an address meanwhile, it plans once more.
func (imp *importer) flush(ctx context.Context, rows []domain.ImportRow) error {
	if len(rows) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		changes, counts, err := imp.plan(ctx, rows)
		if err != nil {
			return err
		}
		if !imp.dryRun {
			err = imp.h.store.ApplyImport(ctx, imp.community, changes, imp.h.audit)
			if errors.Is(err, domain.ErrEmailTaken) && attempt == 0 {
				continue
			}
			if err != nil {
				return err
			}
		}
		imp.res.Created += counts[0]
		imp.res.Updated += counts[1]
		imp.res.Unchanged += counts[2]
		return nil
	}
}

// plan decides, address by address, whether a batch creates, updates or
// leaves a member. Rows of one address fold together in file order, so a
// file that repeats an address is applied as its last state.
func (imp *importer) plan(ctx context.Context, rows []domain.ImportRow) ([]store.ImportChange, [3]int64, error) {
	var counts [3]int64
	var order []string
	byEmail := map[string][]domain.ImportRow{}
	for _, r := range rows {
		if _, seen := byEmail[r.Profile.Email]; !seen {
			order = append(order, r.Profile.Email)
		}
		byEmail[r.Profile.Email] = append(byEmail[r.Profile.Email], r)
	}
	existing, err := imp.h.store.FindByEmails(ctx, imp.community, order)
	if err != nil {
		return nil, counts, err
	}
	now := imp.h.now()
	var changes []store.ImportChange
	for _, email := range order {
		group := byEmail[email]
		current, known := existing[email]
		if known && current.Status == domain.StatusErased {
			imp.fail(domain.RowError{Line: group[0].Line, Field: "email", Reason: "belongs to an erased member"})
			continue
		}
		profile := group[0].Profile
		consent := (*bool)(nil)
		if known {
			profile = current.Profile
		}
		for i, row := range group {
			if known || i > 0 {
				profile = mergeRow(profile, row)
			}
			if row.EmailConsent != nil {
				consent = row.EmailConsent
			}
		}
		var change store.ImportChange
		if known {
			changed := current.Profile.Changed(profile)
			consentMoves := consent != nil && *consent != current.EmailConsent
			if len(changed) == 0 && !consentMoves {
				counts[2]++
				continue
			}
			current.Profile = profile
			change = store.ImportChange{Member: current}
			if len(changed) > 0 {
				e, err := imp.h.events.ProfileUpdated(current, changed)
				if err != nil {
					return nil, counts, err
				}
				change.Events = append(change.Events, e)
			}
			if !consentMoves {
				consent = nil
			}
			counts[1]++
		} else {
			m, err := domain.NewMember(domain.JoinRequest{Community: imp.community, Profile: profile,
				EmailConsent: consent != nil && *consent, Source: domain.Source{Kind: domain.SourceImport}, Vouched: true}, imp.settings, newID(), now)
			if err != nil {
				return nil, counts, err // rows were validated already
			}
			e, err := imp.h.events.MemberJoined(m)
			if err != nil {
				return nil, counts, err
			}
			change = store.ImportChange{Create: true, Member: m, Events: []kafka.Event{e}}
			if consent != nil && !*consent {
				consent = nil // nothing to withdraw from a new member
			}
			counts[0]++
		}
		if consent != nil {
			rec, err := domain.NewConsentRecord(change.Member.ID, domain.PurposeAnnouncements, *consent, domain.ConsentSourceImport, domain.DefaultPolicyVersion, now)
			if err != nil {
				return nil, counts, err
			}
			e, err := imp.h.events.ConsentChanged(imp.community, rec)
			if err != nil {
				return nil, counts, err
			}
			change.Consents, change.Events = []domain.ConsentRecord{rec}, append(change.Events, e)
			change.Member.EmailConsent = *consent
		}
		changes = append(changes, change)
	}
	return changes, counts, nil
}

// mergeRow applies the columns a row has values for onto a profile.
func mergeRow(p domain.Profile, row domain.ImportRow) domain.Profile {
	r := row.Profile
	set := row.Set
	if set["display_name"] {
		p.DisplayName = r.DisplayName
	}
	if set["interests"] {
		p.Interests = r.Interests
	}
	if set["skills"] {
		p.Skills = r.Skills
	}
	if set["locale"] {
		p.Locale = r.Locale
	}
	if set["time_zone"] {
		p.TimeZone = r.TimeZone
	}
	if set["city"] {
		p.Location.City = r.Location.City
	}
	if set["region"] {
		p.Location.Region = r.Location.Region
	}
	if set["country_code"] {
		p.Location.CountryCode = r.Location.CountryCode
	}
	if set["motivation"] {
		p.Motivation = r.Motivation
	}
	if set["availability_hours_per_month"] {
		p.AvailabilityHours = r.AvailabilityHours
	}
	return p
}

// ExportMembers streams the selected members as CSV in the import format,
// so an export can be imported again. Every cell goes through csvout:
// what a member typed is never a live formula in the organiser's
// spreadsheet, and ImportMembers restores it.
func (h *Handler) ExportMembers(ctx context.Context, req *connect.Request[membersv1.ExportMembersRequest], stream *connect.ServerStream[membersv1.ExportMembersResponse]) error {
	community, f, err := h.selection(ctx, req.Msg.GetCommunity(), req.Msg.GetSegmentId(), req.Msg.GetFilter())
	if err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	// An export changes no data: its entry has a transaction of its own.
	if err := h.audit.RecordNow(ctx, community, "members.exported", "segment", req.Msg.GetSegmentId()); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	w := csvout.NewWriter(func(chunk []byte) error {
		return stream.Send(&membersv1.ExportMembersResponse{Chunk: chunk})
	})
	if err := w.Header(domain.ImportColumns()...); err != nil {
		return err
	}
	after := ""
	for {
		page, err := h.store.SegmentMembers(ctx, community, f, after, 500)
		if err != nil {
			return h.toConnect(ctx, req.Spec(), err)
		}
		for _, m := range page {
			p := m.Profile
			if err := w.Row(p.Email, p.DisplayName, strings.Join(p.Interests, ";"), strings.Join(p.Skills, ";"), p.Locale,
				p.TimeZone, p.Location.City, p.Location.Region, p.Location.CountryCode, p.Motivation,
				strconv.Itoa(p.AvailabilityHours), strconv.FormatBool(m.EmailConsent)); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return w.Flush()
		}
		after = page[len(page)-1].ID
	}
}
