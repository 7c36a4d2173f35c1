package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// MaxGenericActivities bounds the activities of one generic delivery.
const MaxGenericActivities = 1000

// genericActivity is one activity of Kinship's generic JSON shape:
//
//	{"activities": [{"id": "evt-1", "type": "posted",
//	  "occurred_at": "2026-03-01T10:00:00Z",
//	  "email": "ada@example.org" | "handle": "ada" | "member_id": "…",
//	  "properties": {"url": "https://…"}}]}
type genericActivity struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	OccurredAt time.Time         `json:"occurred_at"`
	MemberID   string            `json:"member_id"`
	Email      string            `json:"email"`
	Handle     string            `json:"handle"`
	Properties map[string]string `json:"properties"`
}

// parseGeneric reads Kinship's generic shape. Each activity needs an id
// (unique within the source), a type, a time and who it is about; one that
// lacks them is skipped with the reason, and the others count.
func parseGeneric(body []byte, now time.Time) Parsed {
	const event = "activities"
	var p struct {
		Activities []json.RawMessage `json:"activities"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return ignored(event, "the payload is not the generic shape: "+jsonProblem(err))
	}
	switch {
	case len(p.Activities) == 0:
		return ignored(event, "the payload holds no \"activities\"")
	case len(p.Activities) > MaxGenericActivities:
		return ignored(event, fmt.Sprintf("the payload holds more than %d activities", MaxGenericActivities))
	}
	out := Parsed{Event: event}
	for i, raw := range p.Activities {
		a, reason := genericItem(raw, now)
		if reason != "" {
			out.Skipped = append(out.Skipped, fmt.Sprintf("activities[%d]: %s", i, reason))
			continue
		}
		out.Activities = append(out.Activities, a)
	}
	if len(out.Activities) == 0 {
		out.Ignored = out.Skipped[0]
	}
	return out
}

func genericItem(raw json.RawMessage, now time.Time) (Activity, string) {
	var g genericActivity
	if err := json.Unmarshal(raw, &g); err != nil {
		return Activity{}, jsonProblem(err)
	}
	if _, ferr := validate.Text("id", g.ID, 1, 200); ferr != nil {
		return Activity{}, "id " + ferr.Reason
	}
	if g.Type == "" || len(g.Type) > 40 {
		return Activity{}, "type must be an activity type such as \"posted\""
	}
	switch {
	case g.OccurredAt.IsZero():
		return Activity{}, "occurred_at is required"
	case g.OccurredAt.After(now.Add(24 * time.Hour)):
		return Activity{}, "occurred_at lies in the future"
	}
	who := domain.Identity{MemberID: g.MemberID, Handle: g.Handle}
	if g.Email != "" {
		email, ferr := validate.Email("email", g.Email)
		if ferr != nil {
			return Activity{}, "email " + ferr.Reason
		}
		who.Email = email
	}
	if who.MemberID == "" && who.Email == "" && who.Handle == "" {
		return Activity{}, "names nobody: give member_id, email or handle"
	}
	props, ferr := domain.ValidateProperties("properties", g.Properties)
	if ferr != nil {
		return Activity{}, ferr.Reason
	}
	return Activity{Key: "activity/" + g.ID, Type: g.Type, OccurredAt: g.OccurredAt.UTC(), Who: who, Properties: props}, ""
}
