package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
	published "github.com/kinshiphq/kinship/services/events/events"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeOf reads an optional timestamp; nil and the zero time read as zero.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil || (t.GetSeconds() == 0 && t.GetNanos() == 0) {
		return time.Time{}
	}
	return t.AsTime().UTC()
}

func venueToProto(v domain.Venue) *eventsv1.Venue {
	if v.IsZero() {
		return nil
	}
	return &eventsv1.Venue{Name: v.Name, Street: v.Street, City: v.City, Region: v.Region, PostalCode: v.PostalCode, CountryCode: v.CountryCode}
}

func venueFromProto(v *eventsv1.Venue) domain.Venue {
	return domain.Venue{Name: v.GetName(), Street: v.GetStreet(), City: v.GetCity(), Region: v.GetRegion(),
		PostalCode: v.GetPostalCode(), CountryCode: v.GetCountryCode()}
}

// specFromProto reads a submitted spec; unknown enum values are reported
// as field errors.
func specFromProto(p *eventsv1.EventSpec) (domain.Spec, error) {
	var errs validate.Errors
	s := domain.Spec{
		Title: p.GetTitle(), Description: p.GetDescription(), Kind: published.KindFromProto(p.GetKind()), Venue: venueFromProto(p.GetVenue()),
		OnlineURL: p.GetOnlineUrl(), Start: timeOf(p.GetStartTime()), End: timeOf(p.GetEndTime()), TimeZone: p.GetTimeZone(),
		Capacity: int(p.GetCapacity()), OrganiserIDs: p.GetOrganiserIds(), HostIDs: p.GetHostIds(), Tags: p.GetTags(),
		PartnerID: p.GetPartnerId(), RRule: p.GetRecurrence().GetRrule(),
	}
	for _, d := range p.GetRecurrence().GetExdates() {
		s.ExDates = append(s.ExDates, d.AsTime().UTC())
	}
	v, ok := published.VisibilityFromProto(p.GetVisibility())
	if !ok {
		errs = append(errs, validate.Field("visibility", "must be public or members"))
	}
	s.Visibility = v
	return s, errs.Err()
}

func specToProto(s domain.Spec, showURL bool) *eventsv1.EventSpec {
	p := &eventsv1.EventSpec{
		Title: s.Title, Description: s.Description, Kind: published.KindToProto(s.Kind), Venue: venueToProto(s.Venue),
		StartTime: ts(s.Start), EndTime: ts(s.End), TimeZone: s.TimeZone, Capacity: int32(s.Capacity),
		OrganiserIds: s.OrganiserIDs, HostIds: s.HostIDs, Tags: s.Tags, PartnerId: s.PartnerID,
		Visibility: published.VisibilityToProto(s.Visibility),
	}
	if showURL {
		p.OnlineUrl = s.OnlineURL
	}
	if s.RRule != "" {
		p.Recurrence = &eventsv1.Recurrence{Rrule: s.RRule}
		for _, d := range s.ExDates {
			p.Recurrence.Exdates = append(p.Recurrence.Exdates, ts(d))
		}
	}
	return p
}

func occurrenceToProto(o domain.Occurrence, showURL bool) *eventsv1.Occurrence {
	p := &eventsv1.Occurrence{
		Id: o.ID, EventId: o.EventID, RecurrenceId: ts(o.RecurrenceID), StartTime: ts(o.Start), EndTime: ts(o.End),
		Capacity: int32(o.Capacity), SeatsTaken: int32(o.SeatsTaken), Waitlisted: int32(o.Waitlisted),
		Title: o.Title, Description: o.Description, Venue: venueToProto(o.Venue), Sequence: int32(o.Sequence),
		Status: eventsv1.OccurrenceStatus_OCCURRENCE_STATUS_SCHEDULED,
	}
	if o.Status == domain.OccurrenceCancelled {
		p.Status = eventsv1.OccurrenceStatus_OCCURRENCE_STATUS_CANCELLED
	}
	if showURL {
		p.OnlineUrl = o.OnlineURL
	}
	return p
}

func eventToProto(e domain.Event, occs []domain.Occurrence, showURL bool) *eventsv1.Event {
	p := &eventsv1.Event{
		Id: e.ID, Community: e.Community, Spec: specToProto(e.Spec, showURL), Status: published.StatusToProto(e.Status),
		Sequence: int32(e.Sequence), CreatedAt: ts(e.CreatedAt), UpdatedAt: ts(e.UpdatedAt), PublishedAt: ts(e.PublishedAt),
		CancelledAt: ts(e.CancelledAt), CancelReason: e.CancelReason, SplitFromId: e.SplitFromID,
	}
	for _, o := range occs {
		p.Occurrences = append(p.Occurrences, occurrenceToProto(o, showURL))
	}
	return p
}

func rsvpToProto(r domain.RSVP) *eventsv1.RSVP {
	p := &eventsv1.RSVP{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, MemberId: r.MemberID, Status: published.RSVPStatusToProto(r.Status),
		OfferExpiresAt: ts(r.OfferExpiresAt), AnsweredAt: ts(r.AnsweredAt), CheckedInAt: ts(r.CheckedInAt), Series: r.Series,
		OccurrenceStartTime: ts(r.OccurrenceStart),
	}
	if r.Status.Waiting() {
		p.WaitlistPosition = int32(r.Position)
	}
	if r.Status == domain.RSVPGoing || r.Status == domain.RSVPCheckedIn {
		p.CheckInCode, p.QrPayload = r.Code, domain.QRPayload(r.Community, r.Code)
	}
	return p
}

func rsvpsToProto(rs []domain.RSVP) []*eventsv1.RSVP {
	out := make([]*eventsv1.RSVP, 0, len(rs))
	for _, r := range rs {
		out = append(out, rsvpToProto(r))
	}
	return out
}

func feedbackToProto(f domain.Feedback) *eventsv1.Feedback {
	return &eventsv1.Feedback{EventId: f.EventID, OccurrenceId: f.OccurrenceID, MemberId: f.MemberID, Rating: int32(f.Rating),
		Comment: f.Comment, GivenAt: ts(f.GivenAt)}
}
