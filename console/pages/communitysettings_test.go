package pages

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// fakeSettings is the engagement and access APIs as far as the settings
// page needs them: it keeps one community's settings and refuses levels
// that do not start at 0 naming the levels field, as the real API does.
type fakeSettings struct {
	membersv1connect.UnimplementedEngagementServiceHandler
	membersv1connect.UnimplementedAccessServiceHandler
	mu      sync.Mutex
	current *membersv1.CommunitySettings
	updates int
}

func (f *fakeSettings) GetCommunitySettings(context.Context, *connect.Request[membersv1.GetCommunitySettingsRequest]) (*connect.Response[membersv1.GetCommunitySettingsResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return connect.NewResponse(&membersv1.GetCommunitySettingsResponse{Settings: proto.Clone(f.current).(*membersv1.CommunitySettings)}), nil
}

func (f *fakeSettings) UpdateCommunitySettings(_ context.Context, req *connect.Request[membersv1.UpdateCommunitySettingsRequest]) (*connect.Response[membersv1.UpdateCommunitySettingsResponse], error) {
	st := req.Msg.GetSettings()
	if len(st.GetLevels()) == 0 || st.GetLevels()[0].GetMinScore() != 0 {
		cerr := connect.NewError(connect.CodeInvalidArgument, errors.New("levels: must start with a level at score 0"))
		d, _ := connect.NewErrorDetail(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "levels", Description: "must start with a level at score 0"}}})
		cerr.AddDetail(d)
		return nil, cerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current, f.updates = st, f.updates+1
	return connect.NewResponse(&membersv1.UpdateCommunitySettingsResponse{Settings: st}), nil
}

func (f *fakeSettings) ListAPIKeys(context.Context, *connect.Request[membersv1.ListAPIKeysRequest]) (*connect.Response[membersv1.ListAPIKeysResponse], error) {
	return connect.NewResponse(&membersv1.ListAPIKeysResponse{}), nil
}

func TestCommunitySettingsAreEditedWithErrorsNextToTheirFields(t *testing.T) {
	fs := &fakeSettings{current: &membersv1.CommunitySettings{Community: "demo", InterestVocabulary: []string{"solar"},
		Levels:          []*membersv1.LevelThreshold{{Name: "Observer"}, {Name: "Core", MinScore: 50}},
		ActivityWeights: []*membersv1.ActivityWeight{{Type: "attended_event", Weight: 5}}, WindowDays: 90,
		SourceWeights: []*membersv1.SourceWeight{{Source: "forum", Weight: 2}}}}
	r := newRigWith(t, func(mux *http.ServeMux) {
		mux.Handle(membersv1connect.NewEngagementServiceHandler(fs))
		mux.Handle(membersv1connect.NewAccessServiceHandler(fs))
	})
	cookie, ss := r.signIn(t, "organiser")

	t.Run("the form shows the current settings", func(t *testing.T) {
		res, page := r.do(t, http.MethodGet, "/settings", cookie, nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{`<label for="f-interest_vocabulary">Interests`, `value="solar"`, "Observer 0\nCore 50</textarea>",
			"attended_event 5</textarea>", `name="window_days" type="number" value="90"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
	})

	t.Run("a refused change shows the API's error by its field and keeps the input", func(t *testing.T) {
		form := url.Values{csrfField: {ss.CSRF}, "interest_vocabulary": {"solar, <b>wind</b>"}, "levels": {"Observer 5\nCore 50"},
			"activity_weights": {"attended_event 5"}, "window_days": {"90"}}
		res, page := r.do(t, http.MethodPost, "/settings/community", cookie, form, nil)
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{`<span class="field-error" id="e-levels">must start with a level at score 0</span>`,
			`<a href="#f-levels">`, "Observer 5\nCore 50</textarea>", `value="solar, &lt;b&gt;wind&lt;/b&gt;"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
	})

	t.Run("what the console cannot read is refused before the API", func(t *testing.T) {
		form := url.Values{csrfField: {ss.CSRF}, "levels": {"Observer 0\nCore lots"}, "activity_weights": {"attended_event"}, "window_days": {"ninety"}}
		res, page := r.do(t, http.MethodPost, "/settings/community", cookie, form, nil)
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{`id="e-levels">line 2: &#34;lots&#34; is not a whole number`, `id="e-activity_weights">line 1: give a name and a number`,
			`id="e-window_days">must be a whole number of days`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if fs.updates != 0 {
			t.Errorf("settings updated %d times by refused forms", fs.updates)
		}
	})

	t.Run("a good change is saved, keeping the sources' weights", func(t *testing.T) {
		form := url.Values{csrfField: {ss.CSRF}, "interest_vocabulary": {"solar, wind"}, "skill_vocabulary": {""}, "goals": {"clean-air"},
			"levels": {"Observer 0\r\nActive member 10\r\n\r\nCore 50"}, "activity_weights": {"attended_event 5\nhosted_event 10"}, "window_days": {"30"}}
		res, _ := r.do(t, http.MethodPost, "/settings/community", cookie, form, nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", res.StatusCode)
		}
		fs.mu.Lock()
		defer fs.mu.Unlock()
		want := &membersv1.CommunitySettings{InterestVocabulary: []string{"solar", "wind"}, Goals: []string{"clean-air"},
			Levels:          []*membersv1.LevelThreshold{{Name: "Observer"}, {Name: "Active member", MinScore: 10}, {Name: "Core", MinScore: 50}},
			ActivityWeights: []*membersv1.ActivityWeight{{Type: "attended_event", Weight: 5}, {Type: "hosted_event", Weight: 10}}, WindowDays: 30,
			SourceWeights: []*membersv1.SourceWeight{{Source: "forum", Weight: 2}}}
		if !proto.Equal(fs.current, want) {
			t.Errorf("saved %v, want %v", fs.current, want)
		}
	})

	t.Run("staff cannot save them", func(t *testing.T) {
		staff, sss := r.signIn(t, "staff")
		res, _ := r.do(t, http.MethodPost, "/settings/community", staff, url.Values{csrfField: {sss.CSRF}, "levels": {"Observer 0"}, "activity_weights": {"x 1"}, "window_days": {"9"}}, nil)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("staff saving settings: status %d, want 403", res.StatusCode)
		}
	})
}
