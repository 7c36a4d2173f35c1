// Package demo simulates a community for the insights service's tests and
// the dev stack's demo history: each happening becomes the events the
// services publish (members.v1, events.v1, communications.v1,
// partners.v1), and the World keeps what each service's history would
// stream from its current state afterwards, so a live projection and a
// rebuild can be compared — and a demo community can be given months of
// history on its first start.
package demo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
)

// World is one simulated community.
type World struct {
	Community string
	// Events are what the services published, in order.
	Events []kafka.Event

	members     map[string]*member
	order       []string
	activities  []*insightsv1.ActivityFact
	roles       map[string]*insightsv1.RoleFact
	roleOrder   []string
	occurrences map[string]*insightsv1.OccurrenceFact
	occOrder    []string
	attendance  map[string]*insightsv1.AttendanceFact
	attOrder    []string
	messages    map[string]*insightsv1.MessageFact
	msgOrder    []string
	unsubs      []*insightsv1.UnsubscribeFact
	partners    []*insightsv1.PartnerFact
	moves       []*insightsv1.PartnerMoveFact
	agreements  map[string]*insightsv1.AgreementFact
	agOrder     []string
	contribs    []*insightsv1.ContributionFact
}

type member struct {
	fact *insightsv1.MemberFact
}

// New returns an empty community.
func New(community string) *World {
	return &World{Community: community, members: map[string]*member{}, roles: map[string]*insightsv1.RoleFact{},
		occurrences: map[string]*insightsv1.OccurrenceFact{}, attendance: map[string]*insightsv1.AttendanceFact{},
		messages: map[string]*insightsv1.MessageFact{}, agreements: map[string]*insightsv1.AgreementFact{}}
}

func (w *World) publish(domain, typ, key string, at time.Time, payload proto.Message) {
	e, err := kafka.NewProto(kafka.Event{Type: "kinship." + domain + ".v1." + typ, Source: "/communities/" + w.Community + "/" + domain,
		Subject: key, Time: at.UTC(), Topic: w.Community + "." + domain + ".v1", Key: key}, payload)
	if err != nil {
		panic(err) // a payload that cannot be encoded is a bug of the test
	}
	w.Events = append(w.Events, e)
}

// Republish publishes event i again under a new id: the same fact told
// twice (a resend, or a service's own retry).
func (w *World) Republish(i int) {
	e := w.Events[i]
	again, err := kafka.NewProto(kafka.Event{Type: e.Type, Source: e.Source, Subject: e.Subject, Time: e.Time, Topic: e.Topic, Key: e.Key}, nil)
	if err != nil {
		panic(err)
	}
	again.Data = e.Data
	w.Events = append(w.Events, again)
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// Profile is what a member tells of themselves.
type Profile struct {
	Country   string
	City      string
	TimeZone  string
	Interests []string
}

func (p Profile) proto() *membersv1.Profile {
	return &membersv1.Profile{TimeZone: p.TimeZone, Interests: p.Interests, Location: &membersv1.Location{CountryCode: p.Country, City: p.City}}
}

func (p Profile) complete() bool {
	return p.TimeZone != "" && (p.City != "" || p.Country != "") && len(p.Interests) > 0
}

// Join adds a member.
func (w *World) Join(id string, at time.Time, p Profile) {
	w.publish("members", "MemberJoined", id, at, &membersv1.MemberJoined{MemberId: id, Community: w.Community, Email: id + "@example.org",
		DisplayName: "Member " + id, JoinedAt: ts(at), Profile: p.proto(), Interests: p.Interests})
	f := &insightsv1.MemberFact{MemberId: id, JoinedAt: ts(at), Status: insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_MEMBER,
		CountryCode: p.Country, Interests: p.Interests, ProfileComplete: p.complete()}
	if p.complete() {
		f.ProfileCompletedAt = ts(at)
	}
	w.members[id] = &member{fact: f}
	w.order = append(w.order, id)
}

// UpdateProfile changes a member's profile.
func (w *World) UpdateProfile(id string, at time.Time, p Profile) {
	w.publish("members", "ProfileUpdated", id, at, &membersv1.ProfileUpdated{MemberId: id, Community: w.Community, Profile: p.proto()})
	f := w.members[id].fact
	f.CountryCode, f.Interests = p.Country, p.Interests
	if p.complete() && !f.GetProfileComplete() {
		f.ProfileComplete, f.ProfileCompletedAt = true, ts(at)
	}
}

// Activity records an activity of the ledger.
func (w *World) Activity(id, memberID, typ string, at time.Time) {
	w.publish("members", "ActivityRecorded", memberID, at, &membersv1.ActivityRecorded{MemberId: memberID, Community: w.Community, ActivityId: id,
		Type: typ, OccurredAt: ts(at)})
	w.activities = append(w.activities, &insightsv1.ActivityFact{ActivityId: id, MemberId: memberID, Type: typ, OccurredAt: ts(at)})
}

// Onboarded ends a member's onboarding journey: the onboarded activity and
// MemberOnboarded.
func (w *World) Onboarded(activityID, memberID string, at time.Time) {
	w.Activity(activityID, memberID, "onboarded", at)
	w.publish("members", "MemberOnboarded", memberID, at, &membersv1.MemberOnboarded{MemberId: memberID, Community: w.Community, OnboardedAt: ts(at),
		JourneyId: "onboarding/" + w.Community + "/" + memberID})
}

// Level moves a member's level.
func (w *World) Level(memberID, level string, at time.Time) {
	f := w.members[memberID].fact
	w.publish("members", "LevelChanged", memberID, at, &membersv1.LevelChanged{MemberId: memberID, Community: w.Community, FromLevel: f.GetLevel(), ToLevel: level})
	f.Level = level
}

// Role assigns (or, with assigned false, takes back) a role.
func (w *World) Role(memberID, role, tier string, assigned bool, at time.Time) {
	w.publish("members", "RoleChanged", memberID, at, &membersv1.RoleChanged{MemberId: memberID, Community: w.Community, Role: role, Tier: tier, Assigned: assigned})
	key := memberID + "/" + role
	r, ok := w.roles[key]
	if !ok {
		r = &insightsv1.RoleFact{MemberId: memberID, Role: role}
		w.roles[key] = r
		w.roleOrder = append(w.roleOrder, key)
	}
	holds := r.GetAssignedAt() != nil && (r.GetRevokedAt() == nil || r.GetRevokedAt().AsTime().Before(r.GetAssignedAt().AsTime()))
	switch {
	case assigned && !holds:
		r.AssignedAt, r.Tier = ts(at), tier
	case assigned:
		r.Tier = tier
	default:
		r.RevokedAt = ts(at)
	}
}

// Leave ends a membership.
func (w *World) Leave(memberID string, at time.Time) {
	w.publish("members", "StatusChanged", memberID, at, &membersv1.StatusChanged{MemberId: memberID, Community: w.Community,
		FromStatus: membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, ToStatus: membersv1.MemberStatus_MEMBER_STATUS_LEFT})
	w.publish("members", "MemberLeft", memberID, at, &membersv1.MemberLeft{MemberId: memberID, Community: w.Community, LeftAt: ts(at)})
	f := w.members[memberID].fact
	f.Status, f.LeftAt = insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_LEFT, ts(at)
}

// Erase erases a member.
func (w *World) Erase(memberID string, at time.Time) {
	w.publish("members", "MemberErased", memberID, at, &membersv1.MemberErased{MemberId: memberID, Community: w.Community, ErasedAt: ts(at)})
	f := w.members[memberID].fact
	f.Status, f.LeftAt, f.CountryCode, f.Interests = insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_ERASED, ts(at), "", nil
}

// Occurrence is one occurrence of an event.
type Occurrence struct {
	ID         string
	Start, End time.Time
}

// Schedule publishes an event with its occurrences.
func (w *World) Schedule(eventID string, at time.Time, occs ...Occurrence) {
	m := &eventsv1.EventScheduled{EventId: eventID, Community: w.Community, Title: "Event " + eventID, PublishedAt: ts(at)}
	for _, o := range occs {
		m.Occurrences = append(m.Occurrences, &eventsv1.OccurrenceTimes{OccurrenceId: o.ID, StartTime: ts(o.Start), EndTime: ts(o.End)})
		w.occurrences[o.ID] = &insightsv1.OccurrenceFact{EventId: eventID, OccurrenceId: o.ID, StartTime: ts(o.Start), EndTime: ts(o.End)}
		w.occOrder = append(w.occOrder, o.ID)
	}
	w.publish("events", "EventScheduled", eventID, at, m)
}

// Move moves an occurrence of a published event.
func (w *World) Move(eventID string, at time.Time, o Occurrence) {
	w.publish("events", "EventUpdated", eventID, at, &eventsv1.EventUpdated{EventId: eventID, Community: w.Community, OccurrenceId: o.ID,
		Changed: []string{"start_time", "end_time"}, UpdatedAt: ts(at), Status: eventsv1.EventStatus_EVENT_STATUS_PUBLISHED,
		Occurrences: []*eventsv1.OccurrenceTimes{{OccurrenceId: o.ID, StartTime: ts(o.Start), EndTime: ts(o.End)}}})
	f := w.occurrences[o.ID]
	f.StartTime, f.EndTime = ts(o.Start), ts(o.End)
}

// CancelOccurrence cancels one occurrence.
func (w *World) CancelOccurrence(eventID, occID string, at time.Time) {
	w.publish("events", "EventCancelled", eventID, at, &eventsv1.EventCancelled{EventId: eventID, Community: w.Community, OccurrenceId: occID,
		Reason: "rain", CancelledAt: ts(at)})
	w.occurrences[occID].Cancelled = true
}

func (w *World) rsvp(eventID, occID, memberID string) *insightsv1.AttendanceFact {
	key := occID + "/" + memberID
	a, ok := w.attendance[key]
	if !ok {
		a = &insightsv1.AttendanceFact{EventId: eventID, OccurrenceId: occID, MemberId: memberID}
		w.attendance[key] = a
		w.attOrder = append(w.attOrder, key)
	}
	return a
}

// Going answers going and takes a free seat.
func (w *World) Going(eventID, occID, memberID string, at time.Time) {
	w.publish("events", "RSVPReceived", memberID, at, &eventsv1.RSVPReceived{EventId: eventID, OccurrenceId: occID, Community: w.Community,
		MemberId: memberID, ReceivedAt: ts(at), Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING, Status: eventsv1.RSVPStatus_RSVP_STATUS_GOING})
	w.publish("events", "SeatTaken", memberID, at, &eventsv1.SeatTaken{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID, TakenAt: ts(at)})
	a := w.rsvp(eventID, occID, memberID)
	a.Status, a.UpdatedAt = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_GOING, ts(at)
}

// Waitlist answers going to a full occurrence.
func (w *World) Waitlist(eventID, occID, memberID string, at time.Time) {
	w.publish("events", "RSVPReceived", memberID, at, &eventsv1.RSVPReceived{EventId: eventID, OccurrenceId: occID, Community: w.Community,
		MemberId: memberID, ReceivedAt: ts(at), Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING, Status: eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED})
	w.publish("events", "Waitlisted", memberID, at, &eventsv1.Waitlisted{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID,
		WaitlistedAt: ts(at), Position: 1})
	a := w.rsvp(eventID, occID, memberID)
	a.Status, a.UpdatedAt, a.Waitlisted = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_WAITLISTED, ts(at), true
}

// TakeOffer: a waitlisted member is offered a seat and takes it.
func (w *World) TakeOffer(eventID, occID, memberID string, at time.Time) {
	w.publish("events", "SeatOffered", memberID, at, &eventsv1.SeatOffered{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID,
		OfferedAt: ts(at), ExpiresAt: ts(at.Add(24 * time.Hour))})
	taken := at.Add(time.Hour)
	w.publish("events", "SeatTaken", memberID, taken, &eventsv1.SeatTaken{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID,
		TakenAt: ts(taken), FromWaitlist: true})
	a := w.rsvp(eventID, occID, memberID)
	a.Status, a.UpdatedAt = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_GOING, ts(taken)
}

// CancelRSVP withdraws a member.
func (w *World) CancelRSVP(eventID, occID, memberID string, at time.Time) {
	w.publish("events", "RSVPCancelled", memberID, at, &eventsv1.RSVPCancelled{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID,
		CancelledAt: ts(at), PreviousStatus: eventsv1.RSVPStatus_RSVP_STATUS_GOING})
	a := w.rsvp(eventID, occID, memberID)
	a.Status, a.UpdatedAt = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CANCELLED, ts(at)
}

// CheckIn checks a member in.
func (w *World) CheckIn(eventID, occID, memberID string, at time.Time) {
	w.publish("events", "CheckedIn", memberID, at, &eventsv1.CheckedIn{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID, CheckedInAt: ts(at)})
	a := w.rsvp(eventID, occID, memberID)
	a.Status, a.UpdatedAt, a.CheckedInAt = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CHECKED_IN, ts(at), ts(at)
}

// NoShow marks a held seat unused.
func (w *World) NoShow(eventID, occID, memberID string, at time.Time) {
	w.publish("events", "NoShow", memberID, at, &eventsv1.NoShow{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID, MarkedAt: ts(at)})
	a := w.rsvp(eventID, occID, memberID)
	a.Status, a.UpdatedAt = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_NO_SHOW, ts(at)
}

// Feedback rates an occurrence (again: replaces).
func (w *World) Feedback(eventID, occID, memberID string, rating int, at time.Time) {
	w.publish("events", "FeedbackGiven", memberID, at, &eventsv1.FeedbackGiven{EventId: eventID, OccurrenceId: occID, Community: w.Community, MemberId: memberID,
		GivenAt: ts(at), Rating: int32(rating)})
	a := w.rsvp(eventID, occID, memberID)
	a.Rating, a.RatedAt = int32(rating), ts(at)
}

// Sent: a message went out.
func (w *World) Sent(id, memberID, channel, key string, at time.Time) {
	w.publish("communications", "MessageSent", memberID, at, &communicationsv1.MessageSent{MessageId: id, Community: w.Community, MemberId: memberID,
		IdempotencyKey: key, Channel: channel, SentAt: ts(at)})
	w.messages[id] = &insightsv1.MessageFact{MessageId: id, MemberId: memberID, Channel: channel, IdempotencyKey: key,
		State: insightsv1.MessageStateFact_MESSAGE_STATE_FACT_SENT, SentAt: ts(at)}
	w.msgOrder = append(w.msgOrder, id)
}

// Welcome sends a member's welcome e-mail of their onboarding journey.
func (w *World) Welcome(id, memberID string, at time.Time) {
	w.Sent(id, memberID, "email", "onboarding/"+w.Community+"/"+memberID+"/welcome", at)
}

// Bounce: a sent message bounced.
func (w *World) Bounce(id string, at time.Time) {
	m := w.messages[id]
	w.publish("communications", "MessageBounced", m.GetMemberId(), at, &communicationsv1.MessageBounced{MessageId: id, Community: w.Community, MemberId: m.GetMemberId(), Hard: true})
	m.State, m.SettledAt = insightsv1.MessageStateFact_MESSAGE_STATE_FACT_BOUNCED, ts(at)
}

// Fail: a message failed for good.
func (w *World) Fail(id, memberID string, at time.Time) {
	w.publish("communications", "MessageFailed", memberID, at, &communicationsv1.MessageFailed{MessageId: id, Community: w.Community, MemberId: memberID, Reason: "550", Attempts: 1})
	w.messages[id] = &insightsv1.MessageFact{MessageId: id, MemberId: memberID, State: insightsv1.MessageStateFact_MESSAGE_STATE_FACT_FAILED, SettledAt: ts(at)}
	w.msgOrder = append(w.msgOrder, id)
}

// Unsubscribe: a member left an e-mail category.
func (w *World) Unsubscribe(memberID, purpose string, at time.Time) {
	w.publish("communications", "Unsubscribed", memberID, at, &communicationsv1.Unsubscribed{MemberId: memberID, Community: w.Community, Purpose: purpose,
		OccurredAt: ts(at), Source: "one-click"})
	w.unsubs = append(w.unsubs, &insightsv1.UnsubscribeFact{MemberId: memberID, Purpose: purpose, OccurredAt: ts(at)})
}

// AddPartner adds a prospect.
func (w *World) AddPartner(id string, at time.Time) {
	w.publish("partners", "PartnerAdded", id, at, &partnersv1.PartnerAdded{Community: w.Community, PartnerId: id, Partner: &partnersv1.Partner{Id: id,
		Community: w.Community, Name: "Partner " + id, Status: partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT, AddedAt: ts(at)}})
	w.partners = append(w.partners, &insightsv1.PartnerFact{PartnerId: id, AddedAt: ts(at)})
}

var stages = map[string]partnersv1.PartnerStatus{"prospect": partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT,
	"in_conversation": partnersv1.PartnerStatus_PARTNER_STATUS_IN_CONVERSATION, "active": partnersv1.PartnerStatus_PARTNER_STATUS_ACTIVE,
	"lapsed": partnersv1.PartnerStatus_PARTNER_STATUS_LAPSED}

// MovePartner moves a partner along the pipeline.
func (w *World) MovePartner(id, stage string, at time.Time) {
	w.publish("partners", "PartnerStatusChanged", id, at, &partnersv1.PartnerStatusChanged{Community: w.Community, PartnerId: id, ToStatus: stages[stage],
		ChangedBy: "organiser", ChangedAt: ts(at)})
	w.moves = append(w.moves, &insightsv1.PartnerMoveFact{PartnerId: id, ToStage: stage, ChangedAt: ts(at)})
}

// Sign signs (or, with renewal, renews) an agreement; dates are ISO days.
func (w *World) Sign(id, partnerID, start, end, signedOn string, renewal bool, at time.Time) {
	w.publish("partners", "AgreementSigned", partnerID, at, &partnersv1.AgreementSigned{Community: w.Community, PartnerId: partnerID, AgreementId: id,
		StartDate: start, EndDate: end, SignedOn: signedOn, Renewal: renewal, Kind: partnersv1.AgreementKind_AGREEMENT_KIND_MOU})
	a, ok := w.agreements[id]
	if !ok {
		a = &insightsv1.AgreementFact{AgreementId: id, PartnerId: partnerID, SignedOn: signedOn}
		w.agreements[id] = a
		w.agOrder = append(w.agOrder, id)
	}
	a.StartDate, a.EndDate = start, end
}

// EndAgreement expires or terminates an agreement on endedOn.
func (w *World) EndAgreement(id, partnerID, endedOn string, at time.Time) {
	w.publish("partners", "AgreementEnded", partnerID, at, &partnersv1.AgreementEnded{Community: w.Community, PartnerId: partnerID, AgreementId: id,
		Status: partnersv1.AgreementStatus_AGREEMENT_STATUS_TERMINATED, EndedOn: endedOn})
	w.agreements[id].EndedOn = endedOn
}

// Contribution records what a partner gave on day (an ISO date).
func (w *World) Contribution(id, partnerID, kind, day, currency string, amountMinor, minutes int64, at time.Time) {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	kinds := map[string]partnersv1.ContributionKind{"money": partnersv1.ContributionKind_CONTRIBUTION_KIND_MONEY,
		"in_kind": partnersv1.ContributionKind_CONTRIBUTION_KIND_IN_KIND, "venue": partnersv1.ContributionKind_CONTRIBUTION_KIND_VENUE,
		"volunteer_hours": partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS}
	m := &partnersv1.ContributionRecorded{Community: w.Community, PartnerId: partnerID, ContributionId: id, Kind: kinds[kind], OccurredAt: ts(d),
		VolunteerMinutes: minutes}
	if currency != "" {
		m.Value = &partnersv1.Money{CurrencyCode: currency, AmountMinor: amountMinor}
	}
	w.publish("partners", "ContributionRecorded", partnerID, at, m)
	w.contribs = append(w.contribs, &insightsv1.ContributionFact{ContributionId: id, PartnerId: partnerID, Kind: kind, Date: day,
		CurrencyCode: currency, AmountMinor: amountMinor, VolunteerMinutes: minutes})
}

// History is what each service's HistoryService streams now, by service.
func (w *World) History() map[string][]*insightsv1.HistoryRecord {
	out := map[string][]*insightsv1.HistoryRecord{}
	// Records are copies: the World goes on changing its facts.
	add := func(src string, r *insightsv1.HistoryRecord) { out[src] = append(out[src], proto.CloneOf(r)) }
	for _, id := range w.order {
		add("members", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Member{Member: w.members[id].fact}})
	}
	for _, a := range w.activities {
		add("members", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Activity{Activity: a}})
	}
	for _, k := range w.roleOrder {
		add("members", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Role{Role: w.roles[k]}})
	}
	for _, id := range w.occOrder {
		add("events", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Occurrence{Occurrence: w.occurrences[id]}})
	}
	for _, k := range w.attOrder {
		add("events", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Attendance{Attendance: w.attendance[k]}})
	}
	for _, id := range w.msgOrder {
		add("communications", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Message{Message: w.messages[id]}})
	}
	for _, u := range w.unsubs {
		add("communications", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Unsubscribe{Unsubscribe: u}})
	}
	for _, p := range w.partners {
		add("partners", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Partner{Partner: p}})
	}
	for _, mv := range w.moves {
		add("partners", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_PartnerMove{PartnerMove: mv}})
	}
	for _, id := range w.agOrder {
		add("partners", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Agreement{Agreement: w.agreements[id]}})
	}
	for _, c := range w.contribs {
		add("partners", &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Contribution{Contribution: c}})
	}
	return out
}

// Interleave returns events as consumers may see them: the order within a
// topic and key is kept (Kafka keeps it within a partition), records of
// different keys and topics are interleaved at random, and about dup of
// every 1 records is delivered again later (at-least-once delivery).
func Interleave(rng *rand.Rand, events []kafka.Event, dup float64) []kafka.Event {
	queues := map[string][]kafka.Event{}
	var keys []string
	for _, e := range events {
		k := e.Topic + "/" + e.Key
		if _, ok := queues[k]; !ok {
			keys = append(keys, k)
		}
		queues[k] = append(queues[k], e)
	}
	sort.Strings(keys)
	var out []kafka.Event
	again := map[string]bool{}
	for len(keys) > 0 {
		i := rng.IntN(len(keys))
		q := queues[keys[i]]
		e := q[0]
		out = append(out, e)
		q = q[1:]
		if !again[e.ID] && rng.Float64() < dup {
			// Not committed before a rebalance: delivered again after the
			// records that followed it.
			again[e.ID] = true
			q = append(q, e)
		}
		if len(q) == 0 {
			delete(queues, keys[i])
			keys = slices.Delete(keys, i, i+1)
			continue
		}
		queues[keys[i]] = q
	}
	return out
}

// Day is a time on an ISO date at hh:mm UTC, for writing scenarios.
func Day(date string, hhmm string) time.Time {
	t, err := time.Parse(time.DateOnly+" 15:04", date+" "+hhmm)
	if err != nil {
		panic(fmt.Sprintf("bad scenario time %s %s: %v", date, hhmm, err))
	}
	return t
}

// Members are the ids of the members who joined, in order.
func (w *World) Members() []string { return slices.Clone(w.order) }

// TypeOf names an event's CloudEvents type without its prefix, such as
// "MemberJoined".
func TypeOf(e kafka.Event) string { return e.Type[strings.LastIndexByte(e.Type, '.')+1:] }
