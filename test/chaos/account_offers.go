package chaos

import (
	"strings"

	"github.com/kinshiphq/kinship/internal/smtpsink"
)

// seatOfferSubject is the subject of the event lifecycle's default seat
// offer notice (workflows/eventlifecycle) for an event titled title.
func seatOfferSubject(title string) string { return "A seat is free for you: " + title }

// offerFigures are the seat offer notices' accounting.
type offerFigures struct {
	// missing: members holding a seat offer at the end without a notice
	// of it. (A member whose offer ended before — they withdrew — may or
	// may not have been told: the notice is skipped once the offer is
	// gone.)
	missing int
	// duplicated: members with more notices (distinct Message-IDs) for an
	// event than seats offered to them there (SeatOffered on events.v1).
	duplicated int
	// resent: extra copies of a Message-ID already received.
	resent int
}

// seatOfferMail counts the seat offer notices at the mail server against
// the offers the events service holds at the end (offered) and the offers
// it published (offers, per member and occurrence).
func seatOfferMail(log *loadLog, msgs []smtpsink.Message, offered []pairKey, offers map[pairKey]int) offerFigures {
	occs, _, _ := rsvpLog(log)
	emails := map[string]string{} // member id -> address
	log.mu.Lock()
	for _, e := range log.entries {
		if e.Op == "join" && e.Outcome == ok {
			emails[e.Member] = strings.ToLower(e.Email)
		}
	}
	log.mu.Unlock()
	var f offerFigures
	byOcc := map[string]map[string]map[string]int{} // occurrence -> address -> Message-ID -> copies
	for _, o := range occs {
		byOcc[o.id] = recipients(msgs, seatOfferSubject(o.title))
	}
	for _, k := range offered {
		if len(byOcc[k.occurrence][emails[k.member]]) == 0 {
			f.missing++
		}
	}
	members := map[string]string{} // address -> member id
	for id, addr := range emails {
		members[addr] = id
	}
	for occ, byAddr := range byOcc {
		for addr, ids := range byAddr {
			if len(ids) > offers[pairKey{members[addr], occ}] {
				f.duplicated++
			}
			for _, copies := range ids {
				f.resent += copies - 1
			}
		}
	}
	return f
}
