package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// ProjectionGroup is the consumer group keeping the recipients projection.
const ProjectionGroup = "kinship-communications-recipients"

// Projection keeps the recipients projection from members.v1 and sends
// the e-mails of double opt-in: the confirmation link when the members
// service asks for one, the "you are already a member" notice when
// someone joins with a member's address. Each event is applied once (the
// inbox), and events of one member arrive in order (they share a
// partition key).
type Projection struct {
	store  *store.Store
	inbox  *inbox.Inbox
	events Factory
	// queued is called after a transaction queued a message (wakes the
	// dispatcher); nil does nothing.
	queued func()
	now    func() time.Time
}

// NewProjection applies members.v1 events to s; queued, when set, is
// called after an event queued a message.
func NewProjection(s *store.Store, in *inbox.Inbox, queued func()) *Projection {
	return &Projection{store: s, inbox: in, queued: queued, now: time.Now}
}

// Handle applies one members.v1 event. An event it cannot decode, or
// whose payload is not one the members service would publish, is a
// permanent error: the consumer dead-letters it with the reason.
func (p *Projection) Handle(ctx context.Context, e kafka.Event) error {
	apply, err := p.decode(e)
	if err != nil {
		return kafka.Permanent(err)
	}
	if apply == nil {
		return nil
	}
	queued := false
	_, err = p.inbox.Handle(ctx, ProjectionGroup, e.ID, func(tx *sql.Tx) error {
		var err error
		queued, err = apply(ctx, tx)
		return err
	})
	if err != nil {
		if validate.IsInvalid(err) {
			return kafka.Permanent(err)
		}
		return err
	}
	if queued {
		p.store.Notify()
		if p.queued != nil {
			p.queued()
		}
	}
	return nil
}

// effect is what an event does in the inbox transaction; it reports
// whether it queued a message.
type effect func(ctx context.Context, tx *sql.Tx) (queued bool, err error)

func noMail(f func(ctx context.Context, tx *sql.Tx) error) effect {
	return func(ctx context.Context, tx *sql.Tx) (bool, error) { return false, f(ctx, tx) }
}

// decode returns how to apply e, or nil for events the projection ignores.
func (p *Projection) decode(e kafka.Event) (effect, error) {
	var msg proto.Message
	switch e.Type {
	case memberevents.TypeMemberJoined:
		msg = &membersv1.MemberJoined{}
	case memberevents.TypeProfileUpdated:
		msg = &membersv1.ProfileUpdated{}
	case memberevents.TypeConsentChanged:
		msg = &membersv1.ConsentChanged{}
	case memberevents.TypeLevelChanged:
		msg = &membersv1.LevelChanged{}
	case memberevents.TypeRoleChanged:
		msg = &membersv1.RoleChanged{}
	case memberevents.TypeStatusChanged:
		msg = &membersv1.StatusChanged{}
	case memberevents.TypeActivityRecorded:
		msg = &membersv1.ActivityRecorded{}
	case memberevents.TypeMemberMerged:
		msg = &membersv1.MemberMerged{}
	case memberevents.TypeMemberErased:
		msg = &membersv1.MemberErased{}
	case memberevents.TypeEmailConfirmationRequested:
		msg = &membersv1.EmailConfirmationRequested{}
	case memberevents.TypeEmailConfirmed:
		msg = &membersv1.EmailConfirmed{}
	case memberevents.TypeJoinRepeated:
		msg = &membersv1.JoinRepeated{}
	default:
		return nil, nil
	}
	if e.ID == "" {
		return nil, errors.New("event has no id")
	}
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return nil, err
	}
	if err := checkTimes(msg); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	// Every payload names its community and member; they must be what the
	// topic says and what the members service would write.
	withMember, ok := msg.(interface {
		GetCommunity() string
		GetMemberId() string
	})
	if ok {
		if err := checkSubject(e, withMember.GetCommunity(), withMember.GetMemberId()); err != nil {
			return nil, err
		}
	}
	switch m := msg.(type) {
	case *membersv1.MemberJoined:
		r := domain.Recipient{MemberID: m.GetMemberId(), Community: m.GetCommunity(), Status: "active", JoinedAt: m.GetJoinedAt().AsTime(),
			EmailVerified: m.GetEmailVerified()}
		applyProfile(&r, m.GetProfile())
		r.Email, r.DisplayName = first(m.GetEmail(), r.Email), first(m.GetDisplayName(), r.DisplayName)
		if m.GetEmailConsent() {
			r.Consents = []string{domain.PurposeAnnouncements}
		}
		return noMail(func(ctx context.Context, tx *sql.Tx) error { return p.store.PutRecipient(ctx, tx, r) }), nil
	case *membersv1.ProfileUpdated:
		return p.update(m.GetCommunity(), m.GetMemberId(), func(r *domain.Recipient) {
			old := r.Email
			applyProfile(r, m.GetProfile())
			// The members service makes an address a member's current one
			// only once it was confirmed or an organiser vouched for it.
			if !strings.EqualFold(old, r.Email) {
				r.EmailVerified = true
			}
		}), nil
	case *membersv1.EmailConfirmed:
		return p.update(m.GetCommunity(), m.GetMemberId(), func(r *domain.Recipient) {
			// For an address change the new address arrives with the
			// ProfileUpdated that follows.
			if strings.EqualFold(m.GetEmail(), r.Email) {
				r.EmailVerified = true
			}
		}), nil
	case *membersv1.ConsentChanged:
		return noMail(func(ctx context.Context, tx *sql.Tx) error {
			_, err := p.store.SetConsent(ctx, tx, m.GetCommunity(), m.GetMemberId(), m.GetPurpose(), m.GetGranted())
			return err
		}), nil
	case *membersv1.LevelChanged:
		return p.update(m.GetCommunity(), m.GetMemberId(), func(r *domain.Recipient) { r.Level = m.GetToLevel() }), nil
	case *membersv1.RoleChanged:
		return p.update(m.GetCommunity(), m.GetMemberId(), func(r *domain.Recipient) {
			r.Roles = slices.DeleteFunc(r.Roles, func(role string) bool { return role == m.GetRole() })
			if m.GetAssigned() {
				r.Roles = append(r.Roles, m.GetRole())
			}
		}), nil
	case *membersv1.StatusChanged:
		return p.update(m.GetCommunity(), m.GetMemberId(), func(r *domain.Recipient) { r.Status = statusName(m.GetToStatus()) }), nil
	case *membersv1.ActivityRecorded:
		return p.update(m.GetCommunity(), m.GetMemberId(), func(r *domain.Recipient) {
			if at := m.GetOccurredAt().AsTime(); at.After(r.LastActiveAt) {
				r.LastActiveAt = at
			}
		}), nil
	case *membersv1.MemberMerged:
		if err := checkSubject(e, m.GetCommunity(), m.GetDuplicateId()); err != nil {
			return nil, err
		}
		return noMail(func(ctx context.Context, tx *sql.Tx) error {
			return p.store.DeleteRecipient(ctx, tx, m.GetCommunity(), m.GetDuplicateId())
		}), nil
	case *membersv1.MemberErased:
		return noMail(func(ctx context.Context, tx *sql.Tx) error {
			return p.store.EraseRecipient(ctx, tx, m.GetCommunity(), m.GetMemberId())
		}), nil
	case *membersv1.EmailConfirmationRequested:
		c, err := domain.NewConfirmation(m.GetCommunity(), m.GetMemberId(), m.GetEmail(), m.GetReason(), "confirm/"+e.ID, newID(), p.now())
		if err != nil {
			return nil, err
		}
		return p.queue(c), nil
	case *membersv1.JoinRepeated:
		return p.joinRepeated(e, m), nil
	}
	return nil, nil
}

// checkSubject refuses a payload whose community is not the topic's or
// whose member id no member could have.
func checkSubject(e kafka.Event, community, memberID string) error {
	if _, ferr := validate.Slug("community", community, 63); ferr != nil {
		return fmt.Errorf("event %s: %w", e.ID, ferr)
	}
	if e.Topic != "" && e.Topic != memberevents.Topic(community) {
		return fmt.Errorf("event %s names community %q but came on topic %s", e.ID, community, e.Topic)
	}
	if _, ferr := validate.Text("member_id", memberID, 1, domain.MaxMemberIDLength); ferr != nil || strings.TrimSpace(memberID) != memberID {
		return fmt.Errorf("event %s: member id is empty, too long or not printable", e.ID)
	}
	return nil
}

// queue stores m with its MessageQueued event, creating the community's
// default template for it when it has none.
func (p *Projection) queue(m domain.Message) effect {
	return func(ctx context.Context, tx *sql.Tx) (bool, error) {
		if t, ok := domain.DefaultTemplate(m.Community, m.Template, p.now()); ok {
			if err := p.store.EnsureTemplate(ctx, tx, t); err != nil {
				return false, err
			}
		}
		return p.store.QueueMessage(ctx, tx, m, p.events.MessageQueued)
	}
}

// joinRepeated answers a join with a member's address: a confirmed member
// is told they are already in; one who never confirmed gets a fresh
// confirmation link instead (they may have lost the first).
func (p *Projection) joinRepeated(e kafka.Event, m *membersv1.JoinRepeated) effect {
	return func(ctx context.Context, tx *sql.Tx) (bool, error) {
		r, err := p.store.Recipient(ctx, tx, m.GetCommunity(), m.GetMemberId())
		if errors.Is(err, store.ErrNoRecipient) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var msg domain.Message
		if r.EmailVerified {
			msg, err = domain.NewAlreadyMember(r.Community, r.MemberID, "already-member/"+e.ID, newID(), p.now())
		} else {
			msg, err = domain.NewConfirmation(r.Community, r.MemberID, r.Email, domain.ConfirmJoin, "confirm/"+e.ID, newID(), p.now())
		}
		if err != nil {
			return false, err
		}
		return p.queue(msg)(ctx, tx)
	}
}

// update changes a known recipient of community; an event about a member
// the projection never saw (it joined before the projection existed) is
// skipped.
func (p *Projection) update(community, memberID string, change func(*domain.Recipient)) effect {
	return noMail(func(ctx context.Context, tx *sql.Tx) error {
		r, err := p.store.Recipient(ctx, tx, community, memberID)
		if errors.Is(err, store.ErrNoRecipient) {
			return nil
		}
		if err != nil {
			return err
		}
		change(&r)
		return p.store.PutRecipient(ctx, tx, r)
	})
}

func applyProfile(r *domain.Recipient, p *membersv1.Profile) {
	if p == nil {
		return
	}
	r.Email, r.DisplayName = first(p.GetEmail(), r.Email), first(p.GetDisplayName(), r.DisplayName)
	r.Locale, r.TimeZone = p.GetLocale(), p.GetTimeZone()
	r.CountryCode, r.Region, r.City = p.GetLocation().GetCountryCode(), p.GetLocation().GetRegion(), p.GetLocation().GetCity()
	r.Interests, r.Skills, r.Goals = p.GetInterests(), p.GetSkills(), p.GetGoals()
}

func statusName(s membersv1.MemberStatus) string {
	switch s {
	case membersv1.MemberStatus_MEMBER_STATUS_INVITED:
		return "invited"
	case membersv1.MemberStatus_MEMBER_STATUS_ACTIVE:
		return "active"
	case membersv1.MemberStatus_MEMBER_STATUS_INACTIVE:
		return "inactive"
	case membersv1.MemberStatus_MEMBER_STATUS_LEFT:
		return "left"
	case membersv1.MemberStatus_MEMBER_STATUS_ERASED:
		return "erased"
	}
	return "unknown"
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
