// Package pages is the console's web application: server-rendered pages
// (html/template, enhanced with htmx) for organisers, staff, ambassadors
// and members. Every page is a client of Kinship's Connect APIs with the
// signed-in person's own token; what a person sees follows the roles in
// that token, and the APIs refuse anything the console would not.
package pages

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/assets"
	"github.com/kinshiphq/kinship/console/session"
)

// SignIn runs the OpenID Connect flow (console/signin).
type SignIn interface {
	Begin(ctx context.Context, returnTo, loginHint string) (string, session.Login, error)
	Finish(ctx context.Context, l session.Login, q url.Values) (session.Session, time.Time, error)
}

// Options configure the pages.
type Options struct {
	// Community is the one community this console serves.
	Community string
	// PublicURL is the console's own address (scheme and host), such as
	// https://demo.example.org; requests naming another Origin are refused.
	PublicURL string
	// InsecureCookies drops the Secure flag, for plain-http loopback
	// development only.
	InsecureCookies bool
	// EventsPublicURL is where members' calendar feeds are fetched from.
	EventsPublicURL string
	Logger          *slog.Logger
}

// Server is the console's HTTP handler.
type Server struct {
	opts   Options
	store  *session.Store
	signin SignIn
	api    *apis.Clients
	assets *assets.Assets
	views  map[string]*template.Template
	jobs   *jobs
	origin string
}

// New builds the pages and parses every template.
func New(opts Options, store *session.Store, signin SignIn, api *apis.Clients) (*Server, error) {
	s := &Server{opts: opts, store: store, signin: signin, api: api, assets: assets.New(), jobs: newJobs()}
	if u, err := url.Parse(opts.PublicURL); err == nil && u.Host != "" {
		s.origin = u.Scheme + "://" + u.Host
	}
	views, err := s.parseViews()
	if err != nil {
		return nil, err
	}
	s.views = views
	return s, nil
}

// Roles that open pages. Platform admins open every page.
var (
	team       = []string{"organiser", "staff"}
	organisers = []string{"organiser"}
	anyone     []string // any signed-in person
)

// body limits
const (
	formLimit   = 1 << 20
	uploadLimit = 64 << 20
)

// Handler routes every page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", s.assets)
	mux.HandleFunc("GET /signin", s.signIn)
	mux.HandleFunc("GET /auth/callback", s.callback)
	mux.HandleFunc("GET /signed-out", s.signedOut)
	s.routes(func(pattern string, roles []string, limit int64, h handler) {
		mux.Handle(pattern, s.guard(roles, limit, h))
	})
	return s.secure(mux)
}

// routes lists every page with the roles that may open it.
func (s *Server) routes(add func(pattern string, roles []string, limit int64, h handler)) {
	add("POST /signout", anyone, formLimit, s.signOut)
	add("GET /{$}", anyone, 0, s.home)

	add("GET /dashboard", team, 0, s.dashboard)
	add("GET /goals", team, 0, s.goals)
	add("GET /goals/new", organisers, 0, s.goalNew)
	add("POST /goals", organisers, formLimit, s.goalSave)
	add("GET /goals/{name}", organisers, 0, s.goalEdit)
	add("POST /goals/{name}", organisers, formLimit, s.goalSave)
	add("POST /goals/{name}/archive", organisers, formLimit, s.goalArchive)

	add("GET /members", team, 0, s.membersList)
	add("GET /members/count", team, 0, s.membersCount)
	add("POST /members/segments", team, formLimit, s.segmentSave)
	add("POST /members/segments/{id}/delete", team, formLimit, s.segmentDelete)
	add("GET /members/new", team, 0, s.memberNew)
	add("POST /members/new", team, formLimit, s.memberCreate)
	add("GET /members/import", organisers, 0, s.importForm)
	add("POST /members/import", organisers, uploadLimit, s.importStart)
	add("GET /members/import/{job}", organisers, 0, s.importStatus)
	add("GET /members/import/{job}/errors.csv", organisers, 0, s.importErrors)
	add("GET /members/export.csv", organisers, 0, s.membersExport)
	add("GET /members/{id}", team, 0, s.memberDetail)
	add("POST /members/{id}/profile", team, formLimit, s.memberUpdate)
	add("POST /members/{id}/roles", organisers, formLimit, s.memberRole)
	add("POST /members/{id}/consents", organisers, formLimit, s.memberConsent)
	add("POST /members/{id}/erase", organisers, formLimit, s.memberErase)

	add("GET /journeys", team, 0, s.journeysList)
	add("GET /journeys/start", organisers, 0, s.journeysStartForm)
	add("POST /journeys/start", organisers, formLimit, s.journeysStart)
	add("GET /journeys/start/{job}", organisers, 0, s.journeysStartStatus)
	add("GET /journeys/{member}", team, 0, s.journeyDetail)
	add("POST /journeys/{member}/signal", organisers, formLimit, s.journeySignal)
	add("GET /ambassadors", team, 0, s.ambassadors)
	add("POST /ambassadors/nominate", []string{"organiser", "ambassador"}, formLimit, s.nominate)
	add("POST /ambassadors/{member}/review", organisers, formLimit, s.review)

	add("GET /events", team, 0, s.eventsList)
	add("GET /events/new", team, 0, s.eventNew)
	add("POST /events/new", team, formLimit, s.eventCreate)
	add("GET /events/{id}", team, 0, s.eventDetail)
	add("GET /events/{id}/edit", team, 0, s.eventEdit)
	add("POST /events/{id}/edit", team, formLimit, s.eventUpdate)
	add("POST /events/{id}/publish", team, formLimit, s.eventPublish)
	add("POST /events/{id}/cancel", team, formLimit, s.eventCancel)
	// The door of an event: the team's for every event, a host's for
	// their own (the handlers check, as the events API does).
	add("GET /events/{id}/attendees", anyone, 0, s.eventAttendees)
	add("GET /events/{id}/checkin", anyone, 0, s.checkInScreen)
	add("POST /events/{id}/checkin", anyone, formLimit, s.checkIn)
	add("GET /events/{id}/ics", anyone, 0, s.eventICS)

	add("GET /communications", team, 0, s.commsHome)
	add("GET /communications/templates/new", team, 0, s.templateNew)
	add("GET /communications/templates/{name}", team, 0, s.templateEdit)
	add("POST /communications/templates", team, formLimit, s.templateSave)
	add("POST /communications/templates/{name}/delete", team, formLimit, s.templateDelete)
	add("GET /communications/templates/{name}/preview", team, 0, s.templatePreview)
	add("POST /communications/templates/preview", team, formLimit, s.templateDraftPreview)
	add("GET /communications/announcements/new", organisers, 0, s.announcementNew)
	add("POST /communications/announcements", organisers, formLimit, s.announcementCreate)
	add("GET /communications/announcements/{id}", team, 0, s.announcementDetail)
	add("POST /communications/announcements/{id}/cancel", organisers, formLimit, s.announcementCancel)
	add("GET /communications/deliveries", team, 0, s.deliveries)
	add("POST /communications/suppressions/remove", organisers, formLimit, s.suppressionRemove)
	add("GET /communications/webhooks", organisers, 0, s.webhooks)
	add("POST /communications/webhooks", organisers, formLimit, s.webhookCreate)
	add("POST /communications/webhooks/{id}/delete", organisers, formLimit, s.webhookDelete)

	add("GET /partners", team, 0, s.partnersBoard)
	add("GET /partners/grid", team, 0, s.stakeholderGrid)
	add("GET /partners/new", team, 0, s.partnerNew)
	add("POST /partners/new", team, formLimit, s.partnerCreate)
	add("GET /partners/agreements", team, 0, s.agreementsList)
	add("GET /partners/{id}", team, 0, s.partnerDetail)
	add("POST /partners/{id}/status", team, formLimit, s.partnerStatus)
	add("POST /partners/{id}/contacts", team, formLimit, s.contactAdd)
	add("POST /partners/{id}/agreements", team, formLimit, s.agreementCreate)
	add("POST /partners/{id}/contributions", team, formLimit, s.contributionAdd)

	add("GET /settings", organisers, 0, s.settings)
	add("POST /settings/keys", organisers, formLimit, s.keyCreate)
	add("POST /settings/community", organisers, formLimit, s.communitySettingsSave)
	add("POST /settings/keys/{id}/revoke", organisers, formLimit, s.keyRevoke)
	add("GET /audit", organisers, 0, s.audit)

	add("GET /me", anyone, 0, s.me)
	add("POST /me/profile", anyone, formLimit, s.meProfile)
	add("POST /me/preferences", anyone, formLimit, s.mePreferences)
	add("POST /me/consents", anyone, formLimit, s.meConsent)
	add("POST /me/rsvp", anyone, formLimit, s.meRSVP)
	add("POST /me/calendar/rotate", anyone, formLimit, s.meRotateFeed)
	add("GET /me/export.json", anyone, 0, s.meExport)
	add("POST /me/erase", anyone, formLimit, s.meErase)
}
