package definitions

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the definitions schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("journeys", migrations) }

// Auditor records a change in the audit log, in the change's
// transaction, for the caller in ctx (an *audit.Log).
type Auditor interface {
	Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error
}

// Audit actions of definitions and journeys.
const (
	ActionSaved     = "journey_definition.saved"
	ActionPublished = "journey_definition.published"
	ActionSeeded    = "journey_definition.seeded"
	// TargetDefinition entries name "<kind>/<version>", such as
	// "onboarding/3".
	TargetDefinition = "journey_definition"
)

// Store keeps the definitions' versions. Every query names the community.
type Store struct {
	db    *db.DB
	audit Auditor
	now   func() time.Time
}

// New returns a store over d recording every change in log, each in the
// change's transaction.
func New(d *db.DB, log Auditor) *Store {
	return &Store{db: d, audit: log, now: time.Now}
}

// DB is the store's database, for the audit log that shares it.
func (s *Store) DB() *db.DB { return s.db }

// Save checks document (see Parse) and keeps it as the next version of
// the community's definition of kind, published at once or as a draft:
// an organiser's version (SourceAPI, audited as saved). When base is not 0
// it must be the newest version, or the save fails with ErrStale. The
// save and its audit entry are one transaction.
func (s *Store) Save(ctx context.Context, community, kind, document string, publish bool, base int) (Version, error) {
	return s.save(ctx, community, kind, document, SourceAPI, ActionSaved, publish, base)
}

// SaveSeed is Save for a document a workload sends from configuration —
// the operator, from the Community resource's spec.journeys: the version
// is a seed (SourceSeed, audited as seeded), as the worker's own journeys
// file makes them, so the history tells it from organisers' edits.
func (s *Store) SaveSeed(ctx context.Context, community, kind, document string, publish bool, base int) (Version, error) {
	return s.save(ctx, community, kind, document, SourceSeed, ActionSeeded, publish, base)
}

func (s *Store) save(ctx context.Context, community, kind, document, source, action string, publish bool, base int) (Version, error) {
	doc, err := Parse(kind, document)
	if err != nil {
		return Version{}, err
	}
	return s.insert(ctx, community, kind, doc, source, publish, base, action)
}

func (s *Store) insert(ctx context.Context, community, kind, doc, source string, publish bool, base int, action string) (Version, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return Version{}, errors.New("save definition: no authenticated caller")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	v := Version{Community: community, Kind: kind, Document: doc, Digest: digest(doc), Source: source, SavedAt: now,
		SavedByKind: string(p.Kind), SavedBy: p.Subject}
	if publish {
		v.PublishedAt, v.Current = now, true
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var newest int
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COALESCE(MAX(version), 0) FROM journey_definitions WHERE community = ? AND kind = ?`),
			community, kind).Scan(&newest); err != nil {
			return fmt.Errorf("read the newest version: %w", err)
		}
		if base != 0 && base != newest {
			return fmt.Errorf("%w: version %d is the newest, not %d", ErrStale, newest, base)
		}
		v.Version = newest + 1
		var published any
		if publish {
			published = now
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO journey_definitions
			(community, kind, version, document, digest, source, saved_at, saved_by_kind, saved_by, published_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			community, kind, v.Version, v.Document, v.Digest, v.Source, v.SavedAt, v.SavedByKind, v.SavedBy, published); err != nil {
			return fmt.Errorf("save version %d: %w", v.Version, err)
		}
		if err := s.audit.Record(ctx, tx, community, action, TargetDefinition, target(kind, v.Version)); err != nil {
			return err
		}
		if publish && action != ActionPublished {
			return s.audit.Record(ctx, tx, community, ActionPublished, TargetDefinition, target(kind, v.Version))
		}
		return nil
	})
	if err != nil {
		return Version{}, err
	}
	return v, nil
}

func target(kind string, version int) string { return kind + "/" + strconv.Itoa(version) }

// Publish makes a saved version the current one: a draft going live, or
// an earlier version coming back.
func (s *Store) Publish(ctx context.Context, community, kind string, version int) (Version, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE journey_definitions SET published_at = ?
			WHERE community = ? AND kind = ? AND version = ?`), now, community, kind, version)
		if err != nil {
			return fmt.Errorf("publish version %d: %w", version, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return s.audit.Record(ctx, tx, community, ActionPublished, TargetDefinition, target(kind, version))
	})
	if err != nil {
		return Version{}, err
	}
	return s.Get(ctx, community, kind, version)
}

const columns = `community, kind, version, document, digest, source, saved_at, saved_by_kind, saved_by, published_at`

func scan(row interface{ Scan(...any) error }) (Version, error) {
	var v Version
	var published sql.NullTime
	if err := row.Scan(&v.Community, &v.Kind, &v.Version, &v.Document, &v.Digest, &v.Source, &v.SavedAt, &v.SavedByKind, &v.SavedBy, &published); err != nil {
		return Version{}, err
	}
	v.SavedAt = v.SavedAt.UTC()
	if published.Valid {
		v.PublishedAt = published.Time.UTC()
	}
	return v, nil
}

// current is the number of the current version; 0 when none is published.
func (s *Store) current(ctx context.Context, community, kind string) (int, error) {
	var version int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT version FROM journey_definitions
		WHERE community = ? AND kind = ? AND published_at IS NOT NULL ORDER BY published_at DESC, version DESC LIMIT 1`),
		community, kind).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the current version: %w", err)
	}
	return version, nil
}

// Get returns a version; 0 means the current one. ErrNotFound when there
// is no such version.
func (s *Store) Get(ctx context.Context, community, kind string, version int) (Version, error) {
	cur, err := s.current(ctx, community, kind)
	if err != nil {
		return Version{}, err
	}
	if version == 0 {
		version = cur
	}
	v, err := scan(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+columns+` FROM journey_definitions
		WHERE community = ? AND kind = ? AND version = ?`), community, kind, version))
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, ErrNotFound
	}
	if err != nil {
		return Version{}, fmt.Errorf("read version %d: %w", version, err)
	}
	v.Current = v.Version == cur
	return v, nil
}

// List returns up to limit versions older than before (0 for the newest),
// newest first, without their documents.
func (s *Store) List(ctx context.Context, community, kind string, before, limit int) ([]Version, error) {
	cur, err := s.current(ctx, community, kind)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + columns + ` FROM journey_definitions WHERE community = ? AND kind = ?`
	args := []any{community, kind}
	if before > 0 {
		q += ` AND version < ?`
		args = append(args, before)
	}
	q += ` ORDER BY version DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list versions: %w", err)
		}
		v.Document, v.Current = "", v.Version == cur
		out = append(out, v)
	}
	return out, rows.Err()
}

// Seed keeps document (from the Community resource or the journeys file)
// as a new published version when it differs from the last one seeded, so
// that a change to the resource reaches the community while an
// organiser's later edits are not undone by every restart. A community
// with no version at all gets the seed, or, without one, Kinship's
// default. It reports whether it saved a version. ctx carries the worker
// as the caller.
func (s *Store) Seed(ctx context.Context, community, kind, document string) (bool, error) {
	source, action := SourceSeed, ActionSeeded
	if document == "" {
		document, source = Default(kind), SourceDefault
	}
	doc, err := Parse(kind, document)
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", community, kind, err)
	}
	var lastSeed string
	var versions int
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM journey_definitions WHERE community = ? AND kind = ?`),
		community, kind).Scan(&versions)
	if err != nil {
		return false, fmt.Errorf("read %s %s versions: %w", community, kind, err)
	}
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT digest FROM journey_definitions
		WHERE community = ? AND kind = ? AND source = ? ORDER BY version DESC LIMIT 1`), community, kind, source).Scan(&lastSeed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read %s %s seed: %w", community, kind, err)
	}
	switch {
	case source == SourceDefault && versions > 0:
		return false, nil // the community has its own
	case source == SourceSeed && lastSeed == digest(doc):
		return false, nil // seeded already; later edits stand
	}
	if _, err := s.insert(ctx, community, kind, doc, source, true, 0, action); err != nil {
		return false, err
	}
	return true, nil
}

// Record records an action that is not a definition change (a steering
// action) in the audit log, in one transaction with effect: when effect
// fails nothing is recorded.
func (s *Store) Record(ctx context.Context, community, action, targetType, targetID string, effect func() error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.audit.Record(ctx, tx, community, action, targetType, targetID); err != nil {
			return err
		}
		return effect()
	})
}

// CurrentOnboarding is the community's current onboarding journey and its
// version; Kinship's default as version 0 when none was ever published.
func (s *Store) CurrentOnboarding(ctx context.Context, community string) (onboarding.Graph, int, error) {
	v, err := s.Get(ctx, community, KindOnboarding, 0)
	if errors.Is(err, ErrNotFound) {
		return onboarding.DefaultGraph(), 0, nil
	}
	if err != nil {
		return onboarding.Graph{}, 0, err
	}
	g, err := v.Onboarding()
	return g, v.Version, err
}

// CurrentProgramme is the community's current ambassador programme and
// its version; the default as version 0 when none was ever published.
func (s *Store) CurrentProgramme(ctx context.Context, community string) (ambassador.Programme, int, error) {
	v, err := s.Get(ctx, community, KindAmbassador, 0)
	if errors.Is(err, ErrNotFound) {
		return ambassador.DefaultProgramme(), 0, nil
	}
	if err != nil {
		return ambassador.Programme{}, 0, err
	}
	p, err := v.Programme()
	return p, v.Version, err
}

var _ ambassador.ProgrammeSource = (*Store)(nil)

// QuotaActivities are the activity types the quotas of any version of the
// community's ambassador programme count (the default programme's when it
// has none), sorted.
func (s *Store) QuotaActivities(ctx context.Context, community string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+columns+` FROM journey_definitions WHERE community = ? AND kind = ?`),
		community, KindAmbassador)
	if err != nil {
		return nil, fmt.Errorf("read programmes: %w", err)
	}
	defer rows.Close()
	programmes := []ambassador.Programme{ambassador.DefaultProgramme()}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read programmes: %w", err)
		}
		if p, err := v.Programme(); err == nil {
			programmes = append(programmes, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read programmes: %w", err)
	}
	var out []string
	for _, p := range programmes {
		for _, q := range p.Quotas {
			if !slices.Contains(out, q.Activity) {
				out = append(out, q.Activity)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
