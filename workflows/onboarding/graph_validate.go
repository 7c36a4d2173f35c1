package onboarding

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/kinshiphq/kinship/internal/validate"
)

// reservedIDs are step names a journey's state uses for itself.
func reservedIDs() []string { return []string{StepDone, StepConfirmEmail} }

// activityType is the form of activity types, as the members service
// has it.
var activityType = regexp.MustCompile(`^[a-z0-9]+([_-][a-z0-9]+)*$`)

// timeOfDay is an until setting, such as "09:00".
var timeOfDay = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Validate reports every problem of g, each naming the step — as
// "steps[<id>].<setting>", or "steps[<n>]" for a step without a usable
// id — and what is wrong: unknown kinds, settings a kind does not use,
// references to steps that do not exist, steps the start cannot reach and
// loops that never wait. Templates and segments are checked by the
// journeys API, which can ask the services.
func (g Graph) Validate() error {
	var errs validate.Errors
	switch {
	case len(g.Steps) == 0:
		return validate.Errors{validate.Field("steps", "must hold at least one step")}
	case len(g.Steps) > MaxNodes:
		errs = append(errs, validate.Field("steps", "must hold at most %d steps", MaxNodes))
	}
	for i, l := range g.Locales {
		// language.Parse reads fixed tables only: deterministic, though
		// workflowcheck cannot tell.
		//workflowcheck:ignore
		if tag, err := language.Parse(l); err != nil || l == "" || tag.String() != l {
			errs = append(errs, validate.Field(fmt.Sprintf("locales[%d]", i), "is not a BCP 47 locale such as de or fr-CA"))
		}
		if slices.Index(g.Locales, l) < i {
			errs = append(errs, validate.Field(fmt.Sprintf("locales[%d]", i), "appears twice"))
		}
	}
	names := g.fieldNames()
	seen := map[string]bool{}
	for i, n := range g.Steps {
		f := names[i]
		if _, ferr := validate.Slug(f+".id", n.ID, 40); ferr != nil {
			errs = append(errs, ferr)
		} else if slices.Contains(reservedIDs(), n.ID) {
			errs = append(errs, validate.Field(f+".id", "%q is kept for the journey itself; name the step otherwise", n.ID))
		} else if seen[n.ID] {
			errs = append(errs, validate.Field(f+".id", "step %q appears twice", n.ID))
		}
		seen[n.ID] = true
		if !slices.Contains(Kinds(), n.Kind) {
			errs = append(errs, validate.Field(f+".kind", "%q is not a step kind; use one of %s", n.Kind, strings.Join(Kinds(), ", ")))
			continue
		}
		errs = append(errs, n.validate(f)...)
		if n.Kind != KindEnd && n.Kind != KindBranch && n.Next == "" && g.following(i) == "" {
			errs = append(errs, validate.Field(f+".next", "the last step must be an end step or name the step that follows"))
		}
	}
	if len(errs) > 0 {
		return errs.Err()
	}
	return g.validateLinks(names).Err()
}

// fieldNames names each step in errors: by its id when that is usable and
// unique, by its position otherwise.
func (g Graph) fieldNames() []string {
	count := map[string]int{}
	for _, n := range g.Steps {
		count[n.ID]++
	}
	out := make([]string, len(g.Steps))
	for i, n := range g.Steps {
		if _, ferr := validate.Slug("id", n.ID, 40); ferr == nil && count[n.ID] == 1 {
			out[i] = "steps[" + n.ID + "]"
		} else {
			out[i] = fmt.Sprintf("steps[%d]", i)
		}
	}
	return out
}

// setting is one optional setting of a step and the kinds that use it.
type setting struct {
	name  string
	set   bool
	kinds []string
}

// validate checks one step's settings.
func (n Node) validate(f string) validate.Errors {
	var errs validate.Errors
	settings := []setting{
		{"next", n.Next != "", []string{KindSend, KindWait, KindWaitFor, KindSuggestEvents, KindAssignBuddy, KindTag, KindRecordActivity, KindNotifyOrganiser}},
		{"template", n.Template != "", []string{KindSend, KindSuggestEvents, KindAssignBuddy, KindNotifyOrganiser}},
		{"buddy_template", n.BuddyTemplate != "", []string{KindAssignBuddy}},
		{"for", n.For != 0, []string{KindWait}},
		{"until", n.Until != "", []string{KindWait}},
		{"signal", n.Signal != "", []string{KindWaitFor}},
		{"timeout", n.Timeout != 0, []string{KindWaitFor}},
		{"on_timeout", n.OnTimeout != "", []string{KindWaitFor}},
		{"if", n.If != nil, []string{KindBranch}},
		{"then", n.Then != "", []string{KindBranch}},
		{"else", n.Else != "", []string{KindBranch}},
		{"limit", n.Limit != 0, []string{KindSuggestEvents}},
		{"tag", n.Tag != "", []string{KindTag}},
		{"activity", n.Activity != "", []string{KindRecordActivity}},
		{"to", len(n.To) > 0, []string{KindNotifyOrganiser}},
		{"outcome", n.Outcome != "", []string{KindEnd}},
	}
	for _, s := range settings {
		if s.set && !slices.Contains(s.kinds, n.Kind) {
			errs = append(errs, validate.Field(f+"."+s.name, "a %s step does not use %s", n.Kind, s.name))
		}
	}
	required := func(name string, set bool) {
		if !set {
			errs = append(errs, validate.Field(f+"."+name, "a %s step needs %s", n.Kind, name))
		}
	}
	template := func(name, v string) {
		if v == "" {
			return
		}
		if _, ferr := validate.Slug(f+"."+name, v, 63); ferr != nil {
			errs = append(errs, validate.Field(f+"."+name, "is not a template name: %s", ferr.Reason))
		}
	}
	template("template", n.Template)
	template("buddy_template", n.BuddyTemplate)
	switch n.Kind {
	case KindSend:
		required("template", n.Template != "")
	case KindWait:
		switch {
		case n.For != 0 && n.Until != "":
			errs = append(errs, validate.Field(f+".until", "a wait has for or until, not both"))
		case n.For == 0 && n.Until == "":
			errs = append(errs, validate.Field(f+".for", "a wait needs for (a duration such as \"48h\") or until (a time of day such as \"09:00\")"))
		case n.Until != "" && !timeOfDay.MatchString(n.Until):
			errs = append(errs, validate.Field(f+".until", "must be a time of day from 00:00 to 23:59"))
		case n.For != 0 && (n.For < 0 || n.For.Std() > MaxWait):
			errs = append(errs, validate.Field(f+".for", "must be positive and at most %v", MaxWait))
		}
	case KindWaitFor:
		required("signal", n.Signal != "")
		if n.Signal != "" && !slices.Contains(WaitSignals(), n.Signal) {
			errs = append(errs, validate.Field(f+".signal", "%q is not something a journey can wait for; use one of %s", n.Signal, strings.Join(WaitSignals(), ", ")))
		}
		required("timeout", n.Timeout != 0)
		if n.Timeout < 0 || n.Timeout.Std() > MaxWait {
			errs = append(errs, validate.Field(f+".timeout", "must be positive and at most %v", MaxWait))
		}
	case KindBranch:
		required("if", n.If != nil)
		required("then", n.Then != "")
		required("else", n.Else != "")
		if n.If != nil {
			errs = append(errs, n.If.validate(f+".if")...)
		}
	case KindSuggestEvents:
		if n.Limit < 0 || n.Limit > 10 {
			errs = append(errs, validate.Field(f+".limit", "must be between 1 and 10 (0 means %d)", DefaultSuggestions))
		}
	case KindTag:
		required("tag", n.Tag != "")
		if n.Tag != "" {
			if _, ferr := validate.Slug(f+".tag", n.Tag, 40); ferr != nil {
				errs = append(errs, ferr)
			}
		}
	case KindRecordActivity:
		required("activity", n.Activity != "")
		if n.Activity != "" && (!activityType.MatchString(n.Activity) || len(n.Activity) > 40) {
			errs = append(errs, validate.Field(f+".activity", "must be an activity type such as completed_task"))
		}
	case KindNotifyOrganiser:
		if len(n.To) > 20 {
			errs = append(errs, validate.Field(f+".to", "must name at most 20 members"))
		}
		for i, id := range n.To {
			if id == "" || len(id) > 64 {
				errs = append(errs, validate.Field(fmt.Sprintf("%s.to[%d]", f, i), "must be a member id"))
			}
		}
	case KindEnd:
		if n.Outcome != "" {
			if _, ferr := validate.Slug(f+".outcome", n.Outcome, 40); ferr != nil {
				errs = append(errs, ferr)
			}
		}
	}
	return errs
}

func (c Condition) validate(f string) validate.Errors {
	var errs validate.Errors
	switch {
	case c.Attribute == "" && c.Segment == "":
		return validate.Errors{validate.Field(f, "needs an attribute or a segment")}
	case c.Attribute != "" && c.Segment != "":
		return validate.Errors{validate.Field(f, "asks about an attribute or a segment, not both")}
	case c.Segment != "":
		if len(c.In) > 0 {
			errs = append(errs, validate.Field(f+".in", "a segment condition takes no values"))
		}
		if len(c.Segment) > 64 {
			errs = append(errs, validate.Field(f+".segment", "is not a segment id"))
		}
		return errs
	}
	values := slices.Contains(memberAttributes(), c.Attribute) || c.Attribute == AttrTag
	switch {
	case slices.Contains(flagAttributes(), c.Attribute):
		if len(c.In) > 0 {
			errs = append(errs, validate.Field(f+".in", "%s holds or not; it takes no values", c.Attribute))
		}
	case values:
		if len(c.In) == 0 || len(c.In) > 20 {
			errs = append(errs, validate.Field(f+".in", "%s needs 1 to 20 values", c.Attribute))
		}
		for i, v := range c.In {
			if strings.TrimSpace(v) == "" || len(v) > 100 {
				errs = append(errs, validate.Field(fmt.Sprintf("%s.in[%d]", f, i), "must be 1 to 100 characters"))
			}
		}
	default:
		all := append(append(memberAttributes(), flagAttributes()...), AttrTag)
		errs = append(errs, validate.Field(f+".attribute", "%q is not an attribute; use one of %s", c.Attribute, strings.Join(all, ", ")))
	}
	return errs
}

// validateLinks checks that every step named exists, that the start
// reaches every step, and that every loop waits somewhere.
func (g Graph) validateLinks(names []string) validate.Errors {
	var errs validate.Errors
	index := g.Index()
	if g.Start != "" {
		if _, ok := index[g.Start]; !ok {
			errs = append(errs, validate.Field("start", "names step %q, which the definition does not have", g.Start))
		}
	}
	for i, n := range g.Steps {
		links := []struct{ name, to string }{{"next", n.Next}, {"on_timeout", n.OnTimeout}, {"then", n.Then}, {"else", n.Else}}
		for _, l := range links {
			if l.to == "" {
				continue
			}
			if _, ok := index[l.to]; !ok {
				errs = append(errs, validate.Field(names[i]+"."+l.name, "names step %q, which the definition does not have", l.to))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	reached := make([]bool, len(g.Steps))
	queue := []int{index[g.start()]}
	reached[queue[0]] = true
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, s := range g.successors(i) {
			if j := index[s]; !reached[j] {
				reached[j] = true
				queue = append(queue, j)
			}
		}
	}
	for i := range g.Steps {
		if !reached[i] {
			errs = append(errs, validate.Field(names[i], "cannot be reached from the start (%s)", g.start()))
		}
	}
	if loop := g.waitlessLoop(); len(loop) > 0 {
		errs = append(errs, validate.Field(names[index[loop[0]]], "the loop %s never waits: put a wait or wait-for step in it", strings.Join(loop, " → ")))
	}
	return errs
}

// waitlessLoop finds a cycle of steps none of which waits, as the ids
// along it (the first repeated at the end); nil when there is none.
func (g Graph) waitlessLoop() []string {
	index := g.Index()
	const (
		unseen = iota
		onPath
		done
	)
	mark := make([]int, len(g.Steps))
	var path []string
	var visit func(i int) []string
	visit = func(i int) []string {
		n := g.Steps[i]
		if n.Kind == KindWait || n.Kind == KindWaitFor {
			return nil
		}
		mark[i] = onPath
		path = append(path, n.ID)
		for _, s := range g.successors(i) {
			j := index[s]
			switch mark[j] {
			case onPath:
				from := slices.Index(path, s)
				return append(slices.Clone(path[from:]), s)
			case unseen:
				if loop := visit(j); loop != nil {
					return loop
				}
			}
		}
		path = path[:len(path)-1]
		mark[i] = done
		return nil
	}
	for i := range g.Steps {
		if mark[i] == unseen {
			if loop := visit(i); loop != nil {
				return loop
			}
		}
	}
	return nil
}
