package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/smtpsink"
)

// announceFigures are the announcement e-mails' accounting.
type announceFigures struct {
	// sent: announcements the load created.
	sent int
	// unbarriered: announcements created without the barrier (see
	// announcement); their audience is judged only for who must not be
	// in it.
	unbarriered int
	// missing: members who had to get an announcement and got no e-mail
	// of it, while the service does not report the message in doubt.
	missing int
	// duplicated: (recipient, announcement) with more than one Message-ID.
	duplicated int
	// unexpected: recipients of an announcement who must not get it.
	unexpected int
	// resent: extra copies of a Message-ID already received.
	resent int
	// inDoubt: members who had to get it, got nothing, and whose message
	// the service reports in doubt (not resent, by policy: allowed).
	inDoubt int
}

// joinSlack covers the rounding of join times to the microsecond on
// either side of a segment's bounds.
const joinSlack = time.Millisecond

// share says whether a member must, may or must not get an
// announcement.
type share int

const (
	mustNot share = iota
	may
	must
)

// audienceOf decides, for the join j and the announcement a created with
// outcome out, whether j's member must, may or must not get a. An
// announcement's segment is every member with announcement consent
// (email_consent on the join) whose join time — set by the members
// service while it handles the join, so between the call's Sent and At —
// is in [JoinedAfter, JoinedBefore), as the communications service's
// recipients projection knows them when the announcement is created:
//
//   - must: an acknowledged join with consent sent after JoinedAfter and
//     answered before JoinedBefore, when the barrier held (the projection
//     had handled it) and the announcement was acknowledged or refused (a
//     refusal of an audience that is not empty is a loss).
//   - may: a join with consent whose time may fall on either side of a
//     bound (in flight across it), an unknown join sent before
//     JoinedBefore (it may exist, and be in the window or not), and every
//     would-be must when the barrier did not hold or the announcement's
//     own outcome is unknown.
//   - must not: joins without consent, refused joins, joins sent after
//     JoinedBefore (members who joined after the announcement was
//     created), acknowledged joins answered before JoinedAfter, and any
//     address the load never joined.
func audienceOf(j entry, a *announcement, out outcome) share {
	if !j.Consent || j.Outcome == refused {
		return mustNot
	}
	maybeBefore := j.Sent.Before(a.JoinedBefore.Add(joinSlack))
	if j.Outcome == unknown {
		if maybeBefore {
			return may
		}
		return mustNot
	}
	surelyIn := (a.JoinedAfter.IsZero() || j.Sent.After(a.JoinedAfter.Add(joinSlack))) && j.At.Before(a.JoinedBefore.Add(-joinSlack))
	maybeIn := maybeBefore && (a.JoinedAfter.IsZero() || j.At.After(a.JoinedAfter.Add(-joinSlack)))
	switch {
	case surelyIn && a.Barrier && out != unknown:
		return must
	case maybeIn:
		return may
	}
	return mustNot
}

// accountAnnouncements compares the mail server's announcement e-mails
// (each announcement has its own subject) with the audiences the load
// log gives.
func accountAnnouncements(ctx context.Context, l *loader, log *loadLog, msgs []smtpsink.Message) (announceFigures, error) {
	var joins, sends []entry
	log.mu.Lock()
	for _, e := range log.entries {
		switch e.Op {
		case "join":
			joins = append(joins, e)
		case "announce":
			sends = append(sends, e)
		}
	}
	log.mu.Unlock()
	var f announceFigures
	for _, s := range sends {
		a := s.Announcement
		f.sent++
		if !a.Barrier {
			f.unbarriered++
		}
		byRecipient := recipients(msgs, announcementSubject(a.N))
		var inDoubt map[string]bool
		judged := map[string]bool{}
		for _, j := range joins {
			addr := strings.ToLower(j.Email)
			judged[addr] = true
			ids := byRecipient[addr]
			switch audienceOf(j, a, s.Outcome) {
			case must:
				if len(ids) > 0 {
					break
				}
				if inDoubt == nil {
					var err error
					if inDoubt, err = inDoubtMembers(ctx, l, a.ID); err != nil {
						return f, err
					}
				}
				if inDoubt[j.Member] {
					f.inDoubt++
				} else {
					f.missing++
				}
			case mustNot:
				if len(ids) > 0 {
					f.unexpected++
				}
			}
		}
		for addr, ids := range byRecipient {
			if !judged[addr] {
				f.unexpected++
			}
			if len(ids) > 1 {
				f.duplicated++
			}
			for _, copies := range ids {
				f.resent += copies - 1
			}
		}
	}
	return f, nil
}

// recipients groups the e-mails whose subject is subject by recipient
// address, then by Message-ID, counting copies.
func recipients(msgs []smtpsink.Message, subject string) map[string]map[string]int {
	return copiesByRecipient(msgs, func(s string) bool { return s == subject })
}

// inDoubtMembers lists the members whose message of the announcement id
// the communications service's delivery log has in doubt.
func inDoubtMembers(ctx context.Context, l *loader, id string) (map[string]bool, error) {
	out := map[string]bool{}
	if id == "" {
		return out, nil
	}
	token := ""
	for {
		var res *connect.Response[communicationsv1.ListDeliveriesResponse]
		err := retry(ctx, func() error {
			var err error
			res, err = l.communications.ListDeliveries(ctx, connect.NewRequest(&communicationsv1.ListDeliveriesRequest{Community: community,
				AnnouncementId: id, PageSize: 500, PageToken: token}))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("deliveries of announcement %s: %w", id, err)
		}
		for _, m := range res.Msg.GetMessages() {
			if m.GetStatus() == communicationsv1.MessageStatus_MESSAGE_STATUS_IN_DOUBT {
				out[m.GetMemberId()] = true
			}
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}
