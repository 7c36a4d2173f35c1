package pages

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// The community settings form's fields carry the API's field names, so
// the members service's field errors land next to them.
const (
	fieldInterests = "interest_vocabulary"
	fieldSkills    = "skill_vocabulary"
	fieldGoals     = "goals"
	fieldLevels    = "levels"
	fieldWeights   = "activity_weights"
	fieldWindow    = "window_days"
)

// fillSettingsForm puts the community's current settings into the fields
// of form that hold nothing typed.
func fillSettingsForm(form *Form, st *membersv1.CommunitySettings) {
	if st == nil {
		return
	}
	set := func(name, value string) {
		if _, typed := form.Values[name]; !typed {
			form.Values.Set(name, value)
		}
	}
	set(fieldInterests, strings.Join(st.GetInterestVocabulary(), ", "))
	set(fieldSkills, strings.Join(st.GetSkillVocabulary(), ", "))
	set(fieldGoals, strings.Join(st.GetGoals(), ", "))
	var levels, weights []string
	for _, l := range st.GetLevels() {
		levels = append(levels, fmt.Sprintf("%s %d", l.GetName(), l.GetMinScore()))
	}
	for _, w := range st.GetActivityWeights() {
		weights = append(weights, fmt.Sprintf("%s %d", w.GetType(), w.GetWeight()))
	}
	set(fieldLevels, strings.Join(levels, "\n"))
	set(fieldWeights, strings.Join(weights, "\n"))
	set(fieldWindow, strconv.Itoa(int(st.GetWindowDays())))
}

// namedNumbers reads lines of "name number" (the name may hold spaces;
// the number is the last word). A line it cannot read is reported on
// field by its number.
func namedNumbers(form *Form, field, raw, example string) [][2]string {
	var out [][2]string
	for i, line := range strings.Split(strings.ReplaceAll(raw, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cut := strings.LastIndexAny(line, " \t")
		if cut < 0 {
			form.Set(field, fmt.Sprintf("line %d: give a name and a number, such as %s", i+1, example))
			return nil
		}
		name, num := strings.TrimSpace(line[:cut]), line[cut+1:]
		if _, err := strconv.Atoi(num); err != nil {
			form.Set(field, fmt.Sprintf("line %d: %q is not a whole number", i+1, num))
			return nil
		}
		out = append(out, [2]string{name, num})
	}
	return out
}

// settingsFromForm reads the settings form; what it cannot read is set on
// form by field.
func settingsFromForm(form *Form) *membersv1.CommunitySettings {
	v := form.Values
	st := &membersv1.CommunitySettings{
		InterestVocabulary: splitTags(v.Get(fieldInterests)),
		SkillVocabulary:    splitTags(v.Get(fieldSkills)),
		Goals:              splitTags(v.Get(fieldGoals)),
	}
	for _, l := range namedNumbers(form, fieldLevels, v.Get(fieldLevels), "Participant 5") {
		n, _ := strconv.Atoi(l[1])
		st.Levels = append(st.Levels, &membersv1.LevelThreshold{Name: l[0], MinScore: int32(n)})
	}
	for _, w := range namedNumbers(form, fieldWeights, v.Get(fieldWeights), "attended_event 5") {
		n, _ := strconv.Atoi(w[1])
		st.ActivityWeights = append(st.ActivityWeights, &membersv1.ActivityWeight{Type: w[0], Weight: int32(n)})
	}
	days, err := strconv.Atoi(strings.TrimSpace(v.Get(fieldWindow)))
	if err != nil {
		form.Set(fieldWindow, "must be a whole number of days")
	}
	st.WindowDays = int32(days)
	return st
}

// communitySettingsSave replaces the community's vocabularies, levels,
// activity weights and window with what the settings form holds; the
// activity sources' weights (set with the integrations) stay as they are.
func (s *Server) communitySettingsSave(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	v.Del(csrfField)
	form := newForm(v)
	st := settingsFromForm(form)
	if !form.Failed() {
		ctx := r.Context()
		cur, err := s.api.Engagement.GetCommunitySettings(ctx, connect.NewRequest(&membersv1.GetCommunitySettingsRequest{Community: s.opts.Community}))
		if err == nil {
			st.SourceWeights = cur.Msg.GetSettings().GetSourceWeights()
			_, err = s.api.Engagement.UpdateCommunitySettings(ctx, connect.NewRequest(&membersv1.UpdateCommunitySettingsRequest{Community: s.opts.Community, Settings: st}))
		}
		if err == nil {
			seeOther(w, r, "/settings#community-h", "settings-saved")
			return
		}
		form.apply(err, nil)
	}
	d, lerr := s.settingsPage(r, newForm(nil))
	if lerr != nil {
		s.apiFailed(w, r, c, lerr)
		return
	}
	d.Community = form
	s.render(w, r, c, http.StatusBadRequest, "settings", "Settings", "settings", d)
}
