package demo

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Generate simulates a community over weeks weeks from start (a Monday):
// members join (about perWeek a week), record activities, complete their
// profiles, level up, become ambassadors and stop, leave or are erased;
// weekly events take RSVPs, waitlists, check-ins, no-shows and ratings;
// messages go out, bounce and fail; members unsubscribe; partners move
// along the pipeline, sign, renew and end agreements and contribute. The
// same seed gives the same community.
func Generate(community string, seed uint64, start time.Time, weeks, perWeek int) *World {
	rng := rand.New(rand.NewPCG(seed, 42))
	x := New(community)
	var alive []string
	ambassadors := map[string]bool{}
	countries := []string{"DE", "FR", "NL", "PL"}
	interests := []string{"solar", "bikes", "trees", "repair"}
	at := func(day int, hour int) time.Time {
		return start.AddDate(0, 0, day).Add(time.Duration(hour)*time.Hour + time.Duration(rng.IntN(60))*time.Minute)
	}
	n, acts, msgs := 0, 0, 0
	for p := range 3 {
		x.AddPartner(fmt.Sprintf("p%d", p), at(p, 9))
	}
	for week := range weeks {
		base := week * 7
		// Joins, welcomes and first steps.
		for range perWeek/2 + rng.IntN(perWeek+1) {
			id := fmt.Sprintf("m%d", n)
			n++
			day := base + rng.IntN(7)
			prof := Profile{Country: countries[rng.IntN(len(countries))], Interests: []string{interests[rng.IntN(len(interests))]}}
			if rng.IntN(3) == 0 {
				prof.TimeZone, prof.City = "Europe/Berlin", "Berlin"
			}
			x.Join(id, at(day, 8), prof)
			alive = append(alive, id)
			if rng.IntN(10) > 0 {
				msgs++
				x.Welcome(fmt.Sprintf("w%d", msgs), id, at(day, 9))
			}
			if prof.TimeZone == "" && rng.IntN(2) == 0 {
				prof.TimeZone, prof.City = "Europe/Paris", "Lyon"
				x.UpdateProfile(id, at(day+1+rng.IntN(10), 10), prof)
			}
		}
		// Activities of members who are still here.
		for _, id := range alive {
			for range rng.IntN(3) {
				acts++
				types := []string{"rsvp", "attended_event", "posted", "completed_task", "referred_member", "hosted_event"}
				x.Activity(fmt.Sprintf("a%d", acts), id, types[rng.IntN(len(types))], at(base+rng.IntN(7), 11))
			}
			if rng.IntN(40) == 0 {
				acts++
				x.Onboarded(fmt.Sprintf("a%d", acts), id, at(base+rng.IntN(7), 12))
			}
			if rng.IntN(15) == 0 {
				x.Level(id, []string{"Participant", "Contributor", "Core"}[rng.IntN(3)], at(base+rng.IntN(7), 13))
			}
		}
		// Ambassadors come and go.
		if len(alive) > 0 && rng.IntN(2) == 0 {
			id := alive[rng.IntN(len(alive))]
			if ambassadors[id] {
				x.Role(id, "ambassador", "", false, at(base+rng.IntN(7), 14))
				delete(ambassadors, id)
			} else {
				x.Role(id, "ambassador", []string{"bronze", "silver"}[rng.IntN(2)], true, at(base+rng.IntN(7), 14))
				ambassadors[id] = true
			}
		}
		// A weekly event with two occurrences.
		ev := fmt.Sprintf("ev%d", week)
		o1, o2 := ev+"-1", ev+"-2"
		x.Schedule(ev, at(base, 7), Occurrence{ID: o1, Start: start.AddDate(0, 0, base+3).Add(18 * time.Hour), End: start.AddDate(0, 0, base+3).Add(20 * time.Hour)},
			Occurrence{ID: o2, Start: start.AddDate(0, 0, base+5).Add(10 * time.Hour), End: start.AddDate(0, 0, base+5).Add(12 * time.Hour)})
		if rng.IntN(5) == 0 {
			x.Move(ev, at(base+1, 8), Occurrence{ID: o2, Start: start.AddDate(0, 0, base+6).Add(10 * time.Hour), End: start.AddDate(0, 0, base+6).Add(12 * time.Hour)})
		}
		cancelled := rng.IntN(8) == 0
		for _, id := range alive {
			switch r := rng.IntN(12); {
			case r < 3:
				x.Going(ev, o1, id, at(base+1, 9))
				switch rng.IntN(4) {
				case 0:
					x.NoShow(ev, o1, id, start.AddDate(0, 0, base+3).Add(22*time.Hour))
				case 1:
					x.CancelRSVP(ev, o1, id, at(base+2, 9))
				default:
					x.CheckIn(ev, o1, id, start.AddDate(0, 0, base+3).Add(18*time.Hour+time.Duration(rng.IntN(30))*time.Minute))
					if rng.IntN(2) == 0 {
						x.Feedback(ev, o1, id, 1+rng.IntN(5), start.AddDate(0, 0, base+4).Add(9*time.Hour))
					}
				}
			case r < 5:
				x.Waitlist(ev, o2, id, at(base+1, 10))
				if rng.IntN(2) == 0 {
					x.TakeOffer(ev, o2, id, at(base+2, 10))
					if !cancelled && rng.IntN(2) == 0 {
						x.CheckIn(ev, o2, id, start.AddDate(0, 0, base+5).Add(10*time.Hour))
					}
				}
			}
		}
		if cancelled {
			x.CancelOccurrence(ev, o2, at(base+4, 9))
		}
		// An announcement to a few; some bounce, one fails.
		for i, id := range alive {
			if i%4 != week%4 {
				continue
			}
			msgs++
			mid := fmt.Sprintf("n%d", msgs)
			x.Sent(mid, id, "email", fmt.Sprintf("announcement/%d/%s", week, id), at(base+2, 15))
			if rng.IntN(10) == 0 {
				x.Bounce(mid, at(base+3, 9))
			}
		}
		msgs++
		x.Sent(fmt.Sprintf("n%d", msgs), "", "webhook", fmt.Sprintf("announcement/%d/webhook", week), at(base+2, 15))
		if len(alive) > 0 {
			msgs++
			x.Fail(fmt.Sprintf("n%d", msgs), alive[rng.IntN(len(alive))], at(base+2, 16))
			if rng.IntN(2) == 0 {
				x.Unsubscribe(alive[rng.IntN(len(alive))], "email.announcements", at(base+3, 12))
			}
		}
		// Some leave, some are erased.
		for i := 0; i < len(alive); i++ {
			if rng.IntN(30) != 0 {
				continue
			}
			id := alive[i]
			if rng.IntN(3) == 0 {
				x.Erase(id, at(base+6, 20))
			} else {
				x.Leave(id, at(base+6, 20))
			}
			if ambassadors[id] {
				delete(ambassadors, id)
			}
			alive = append(alive[:i], alive[i+1:]...)
			i--
		}
		// Partners.
		p := fmt.Sprintf("p%d", week%3)
		switch week % 6 {
		case 1:
			x.MovePartner(p, "in_conversation", at(base+1, 10))
		case 2:
			x.MovePartner(p, "active", at(base+2, 10))
			ag := fmt.Sprintf("ag%d", week)
			s, e := start.AddDate(0, 0, base+2).Format(time.DateOnly), start.AddDate(0, 0, base+2+40+rng.IntN(60)).Format(time.DateOnly)
			x.Sign(ag, p, s, e, s, false, at(base+2, 11))
			if rng.IntN(2) == 0 {
				x.Sign(ag, p, s, start.AddDate(0, 0, base+2+120).Format(time.DateOnly), s, true, at(base+5, 11))
			} else if rng.IntN(2) == 0 {
				x.EndAgreement(ag, p, start.AddDate(0, 0, base+20).Format(time.DateOnly), at(base+6, 11))
			}
		case 5:
			x.MovePartner(p, "lapsed", at(base+3, 10))
		}
		for c := range 1 + rng.IntN(3) {
			day := start.AddDate(0, 0, base+rng.IntN(7)).Format(time.DateOnly)
			id := fmt.Sprintf("c%d-%d", week, c)
			switch rng.IntN(3) {
			case 0:
				x.Contribution(id, p, "money", day, []string{"EUR", "USD"}[rng.IntN(2)], int64(1000*(1+rng.IntN(20))), 0, at(base+6, 9))
			case 1:
				x.Contribution(id, p, "in_kind", day, "EUR", int64(500*(1+rng.IntN(10))), 0, at(base+6, 9))
			default:
				x.Contribution(id, p, "volunteer_hours", day, "", 0, int64(30*(1+rng.IntN(8))), at(base+6, 9))
			}
		}
	}
	return x
}
