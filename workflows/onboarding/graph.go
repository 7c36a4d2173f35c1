package onboarding

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Step kinds of a versioned journey (a Graph).
const (
	// KindSend sends a communications template to the member.
	KindSend = "send"
	// KindWait waits for a duration (for) or until a time of day in the
	// member's time zone (until).
	KindWait = "wait"
	// KindWaitFor waits for something the member does (signal), going on
	// with next when it happens and with on_timeout when timeout passes.
	KindWaitFor = "wait-for"
	// KindBranch goes on with then or else, by a condition on the member
	// or the journey.
	KindBranch = "branch"
	// KindSuggestEvents e-mails up to limit upcoming events that suit the
	// member.
	KindSuggestEvents = "suggest-events"
	// KindAssignBuddy pairs the member with an ambassador who has room.
	KindAssignBuddy = "assign-buddy"
	// KindTag adds a tag to the journey, for branches and lists.
	KindTag = "tag"
	// KindRecordActivity records an activity in the member's ledger.
	KindRecordActivity = "record-activity"
	// KindNotifyOrganiser sends a template to organisers about the member.
	KindNotifyOrganiser = "notify-organiser"
	// KindEnd ends the journey with an outcome.
	KindEnd = "end"
)

// Kinds lists every step kind.
func Kinds() []string {
	return []string{KindSend, KindWait, KindWaitFor, KindBranch, KindSuggestEvents, KindAssignBuddy, KindTag,
		KindRecordActivity, KindNotifyOrganiser, KindEnd}
}

// What a wait-for step waits for (Node.Signal).
const (
	WaitProfileCompleted = "profile-completed"
	WaitFirstRSVP        = "first-rsvp"
	WaitCheckedIn        = "checked-in"
)

// WaitSignals lists what a wait-for step can wait for.
func WaitSignals() []string { return []string{WaitProfileCompleted, WaitFirstRSVP, WaitCheckedIn} }

// Graph is a community's onboarding journey as data: steps with ids, each
// naming the step that follows. Organisers edit it through the journeys
// API; every saved version is kept, and a running journey keeps the
// version it started with unless it is migrated.
type Graph struct {
	// Start is the first step's id; empty means the first step listed.
	Start string `json:"start,omitempty"`
	// Locales every template the journey sends must have a variant for
	// (besides the fallback), such as ["de", "fr"].
	Locales []string `json:"locales,omitempty"`
	Steps   []Node   `json:"steps"`
}

// Node is one step. Settings a step's kind does not use must be left out.
// A step without next goes on with the step listed after it.
type Node struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Next string `json:"next,omitempty"`
	// Template is the communications template a send, suggest-events,
	// assign-buddy (to the member) or notify-organiser step sends.
	Template string `json:"template,omitempty"`
	// BuddyTemplate is what assign-buddy sends the ambassador.
	BuddyTemplate string `json:"buddy_template,omitempty"`
	// For and Until are a wait's length, or the time of day ("09:00", in
	// the member's time zone, UTC when they gave none) it waits for.
	For   Duration `json:"for,omitempty"`
	Until string   `json:"until,omitempty"`
	// Signal is what a wait-for step waits for; after Timeout it goes on
	// with OnTimeout (next when empty). Something that happened before the
	// step began counts at once.
	Signal    string   `json:"signal,omitempty"`
	Timeout   Duration `json:"timeout,omitempty"`
	OnTimeout string   `json:"on_timeout,omitempty"`
	// If decides a branch: Then when it holds, Else otherwise.
	If   *Condition `json:"if,omitempty"`
	Then string     `json:"then,omitempty"`
	Else string     `json:"else,omitempty"`
	// Limit is how many events suggest-events proposes; 0 means 3.
	Limit int `json:"limit,omitempty"`
	// Tag is what a tag step adds to the journey.
	Tag string `json:"tag,omitempty"`
	// Activity is the activity type record-activity records, such as
	// "completed_task"; once per journey and step.
	Activity string `json:"activity,omitempty"`
	// To are the members a notify-organiser step writes to; empty means
	// the community's organisers (at most 20).
	To []string `json:"to,omitempty"`
	// Outcome is how an end step ends the journey; "onboarded" records
	// the onboarded activity. Empty means "completed".
	Outcome string `json:"outcome,omitempty"`
}

// Condition is what a branch asks: a member or journey attribute holding
// one of In, or membership of a saved segment.
type Condition struct {
	Attribute string   `json:"attribute,omitempty"`
	In        []string `json:"in,omitempty"`
	// Segment is a saved segment's id.
	Segment string `json:"segment,omitempty"`
}

// Attributes a branch can test. Member attributes are read from the
// members service when the branch is reached; journey attributes are the
// journey's own.
const (
	AttrLevel         = "level"          // engagement level name
	AttrLocale        = "locale"         // language, such as "de" (matches "de-AT")
	AttrCountry       = "country"        // ISO country code
	AttrRegion        = "region"         // region
	AttrCity          = "city"           // city
	AttrInterest      = "interest"       // one of the member's interests
	AttrRole          = "role"           // one of the member's roles
	AttrSource        = "source"         // how they joined: public, import, organiser, event, referral
	AttrEmailVerified = "email-verified" // their address is confirmed (no values)
	AttrProfile       = "profile-completed"
	AttrRSVPed        = "rsvped"
	AttrAttended      = "attended"
	AttrHasBuddy      = "has-buddy"
	AttrTag           = "tag" // a tag of the journey
)

// memberAttributes take values and are read from the members service.
func memberAttributes() []string {
	return []string{AttrLevel, AttrLocale, AttrCountry, AttrRegion, AttrCity, AttrInterest, AttrRole, AttrSource}
}

// flagAttributes take no values: they hold or they do not.
func flagAttributes() []string {
	return []string{AttrEmailVerified, AttrProfile, AttrRSVPed, AttrAttended, AttrHasBuddy}
}

// Outcomes of versioned journeys besides those of the fixed ones.
const (
	// OutcomeCompleted ends a journey at an end step naming no outcome.
	OutcomeCompleted = "completed"
	// OutcomeStepLimit ends a journey that ran MaxTransitions steps.
	OutcomeStepLimit = "step-limit"
)

// Limits of a graph.
const (
	MaxNodes = 50
	// MaxTransitions bounds the steps one journey runs, so a loop that
	// waits only briefly cannot run for ever.
	MaxTransitions = 1000
)

// ParseGraph reads a graph from JSON, refusing unknown settings. It does
// not validate it.
func ParseGraph(r io.Reader) (Graph, error) {
	var g Graph
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return Graph{}, fmt.Errorf("not a journey definition: %w", err)
	}
	if dec.More() {
		return Graph{}, fmt.Errorf("not a journey definition: more than one JSON value")
	}
	return g, nil
}

// Document is g as the indented JSON every version is kept in.
func (g Graph) Document() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		panic(fmt.Sprintf("encode a journey definition: %v", err)) // plain data always encodes
	}
	return b.String()
}

// start is the id of the first step.
func (g Graph) start() string {
	if g.Start != "" {
		return g.Start
	}
	if len(g.Steps) == 0 {
		return ""
	}
	return g.Steps[0].ID
}

// following is the step after the one at i in the list ("" for the last).
func (g Graph) following(i int) string {
	if i+1 < len(g.Steps) {
		return g.Steps[i+1].ID
	}
	return ""
}

// next is where the step at i goes on when it ends normally.
func (g Graph) next(i int) string {
	if n := g.Steps[i].Next; n != "" {
		return n
	}
	return g.following(i)
}

// timeoutNext is where a wait-for step at i goes when its timeout passes.
func (g Graph) timeoutNext(i int) string {
	if n := g.Steps[i].OnTimeout; n != "" {
		return n
	}
	return g.next(i)
}

// successors are the steps the step at i can go on with.
func (g Graph) successors(i int) []string {
	n := g.Steps[i]
	switch n.Kind {
	case KindEnd:
		return nil
	case KindBranch:
		return []string{n.Then, n.Else}
	case KindWaitFor:
		if t := g.timeoutNext(i); t != g.next(i) {
			return []string{g.next(i), t}
		}
	}
	return []string{g.next(i)}
}

// Index maps step ids to their position.
func (g Graph) Index() map[string]int {
	out := make(map[string]int, len(g.Steps))
	for i, n := range g.Steps {
		if _, dup := out[n.ID]; !dup {
			out[n.ID] = i
		}
	}
	return out
}

// Has reports whether g has a step of id.
func (g Graph) Has(id string) bool {
	_, ok := g.Index()[id]
	return ok
}

// IDs are the step ids, in order.
func (g Graph) IDs() []string {
	out := make([]string, 0, len(g.Steps))
	for _, n := range g.Steps {
		out = append(out, n.ID)
	}
	return out
}

// TemplateRef is a template a step sends.
type TemplateRef struct {
	Step  string
	Field string
	Name  string
}

// Templates lists every template the journey sends, defaults included,
// in step order.
func (g Graph) Templates() []TemplateRef {
	var out []TemplateRef
	for _, n := range g.Steps {
		switch n.Kind {
		case KindSend:
			out = append(out, TemplateRef{n.ID, "template", n.Template})
		case KindSuggestEvents, KindNotifyOrganiser:
			out = append(out, TemplateRef{n.ID, "template", n.template()})
		case KindAssignBuddy:
			out = append(out, TemplateRef{n.ID, "template", n.template()}, TemplateRef{n.ID, "buddy_template", n.buddyTemplate()})
		}
	}
	return out
}

// SegmentRef is a saved segment a branch asks about.
type SegmentRef struct {
	Step    string
	Segment string
}

// Segments lists the saved segments branches ask about.
func (g Graph) Segments() []SegmentRef {
	var out []SegmentRef
	for _, n := range g.Steps {
		if n.Kind == KindBranch && n.If != nil && n.If.Segment != "" {
			out = append(out, SegmentRef{n.ID, n.If.Segment})
		}
	}
	return out
}

// template is the template a step sends, its kind's default when unset.
func (n Node) template() string {
	if n.Template != "" {
		return n.Template
	}
	switch n.Kind {
	case KindSuggestEvents:
		return TemplateEventSuggestion
	case KindAssignBuddy:
		return TemplateBuddyMember
	case KindNotifyOrganiser:
		return TemplateOrganiserNotice
	}
	return ""
}

func (n Node) buddyTemplate() string {
	if n.BuddyTemplate != "" {
		return n.BuddyTemplate
	}
	return TemplateBuddyAmbassador
}

func (n Node) limit() int {
	if n.Limit > 0 {
		return n.Limit
	}
	return DefaultSuggestions
}

func (n Node) outcome() string {
	if n.Outcome != "" {
		return n.Outcome
	}
	return OutcomeCompleted
}

// First is the id of the step a journey begins with.
func (g Graph) First() string { return g.start() }
