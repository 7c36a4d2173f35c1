package browsertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/devstack/devstacktest"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// The members the organiser imports: two join the segment (solar), one
// does not, and one row is wrong.
const importCSV = `email,display_name,interests,email_consent
sol.one@example.org,Sol One,solar;wind,true
sol.two@example.org,"<script>alert(""Sol Two"")</script>",solar,true
wendy@example.org,Wendy Wind,wind,true
not-an-address,Broken Row,solar,true
`

func TestAnOrganisersDayInTheConsole(t *testing.T) {
	execPath := needChromium(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	ep, _ := devstacktest.Start(t, devstack.Config{Communities: []string{"demo"}}, devstack.Deps{Logger: logger, Telemetry: tel}, "demo")

	browser := newBrowser(t, execPath)
	// The screenshots docs/console.md shows are refreshed with
	// `make screenshots` (KINSHIP_SCREENSHOTS=docs/console); other runs
	// take them into a temporary folder, so a test run leaves the tree
	// as it was.
	shots := os.Getenv("KINSHIP_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	window := func(t *testing.T) *person {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		// Create the tab on this context itself: a tab first used through
		// a derived context with a timeout would close with it.
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("open a browser window: %v", err)
		}
		return &person{t: t, ctx: ctx, base: ep.Console, shots: shots}
	}
	orla := window(t)
	maya := window(t)

	var membersBefore int
	var segmentID, eventTitle, checkInCode string

	t.Run("the organiser signs in with one click and lands on the dashboard", func(t *testing.T) {
		orla.t = t
		orla.run(chromedp.Navigate(ep.ConsoleSignIn), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if loc := orla.location(); !strings.HasSuffix(loc, "/dashboard") {
			t.Fatalf("landed on %s", loc)
		}
		orla.waitText("Orla Organiser")
		membersBefore = atoi(t, orla.text(".grid .card .stat"))
		orla.check("")
	})

	t.Run("imports members with a progress bar and a per-row error report", func(t *testing.T) {
		orla.t = t
		file := filepath.Join(t.TempDir(), "members.csv")
		if err := os.WriteFile(file, []byte(importCSV), 0o600); err != nil {
			t.Fatal(err)
		}
		orla.open("/members/import")
		orla.check("")
		orla.run(chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{file}), chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		orla.waitText("Import finished")
		orla.waitText("3 created")
		orla.waitText("1 failed")
		if got := orla.text("#progress table tbody"); !strings.Contains(got, "5") || !strings.Contains(got, "email") {
			t.Errorf("the error report does not name line 5's email: %q", got)
		}
		orla.check("import")
	})

	t.Run("builds a segment with a live count and saves it", func(t *testing.T) {
		orla.t = t
		orla.open("/members")
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-interests"), "solar"))
		orla.waitText("2 members match")
		orla.run(chromedp.Click(chromedp.CSS("#builder button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#f-segment_name")))
		orla.waitText("Sol One")
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-segment_name"), "Solar people"),
			chromedp.Click(chromedp.CSS("form[action='/members/segments'] button")))
		orla.waitText("The segment was saved.")
		// A display name is text, never markup.
		orla.waitText(`<script>alert("Sol Two")</script>`)
		orla.check("members")
		href, err := chromedp.Run(orla.ctx, chromedp.Evaluate[string](`document.querySelector("a[href^='/journeys/start?segment=']").getAttribute("href")`))
		if err != nil {
			t.Fatal(err)
		}
		segmentID = strings.TrimPrefix(href, "/journeys/start?segment=")
	})

	t.Run("finds a member by part of the name and opens them", func(t *testing.T) {
		orla.t = t
		orla.open("/members")
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-q"), "wind"), chromedp.Click(chromedp.CSS("form[role=search] button[type=submit]")))
		orla.waitText("Search results")
		if loc := orla.location(); !strings.Contains(loc, "q=wind") {
			t.Errorf("the search is not in the address: %s", loc)
		}
		if rows := orla.text("main table tbody"); !strings.Contains(rows, "Wendy Wind") || strings.Contains(rows, "Sol One") {
			t.Fatalf("search for wind listed %q", rows)
		}
		orla.check("")
		orla.run(chromedp.Click(chromedp.CSS("main table tbody a")), chromedp.WaitVisible(chromedp.CSS("main h1")))
		orla.waitText("wendy@example.org")
		if h1 := orla.text("main h1"); !strings.Contains(h1, "Wendy Wind") {
			t.Fatalf("opened %q, want Wendy Wind's page", h1)
		}
	})

	t.Run("starts onboarding for the segment and the welcome mail arrives", func(t *testing.T) {
		orla.t = t
		orla.open("/journeys/start?segment=" + segmentID)
		orla.waitText("2 members in “Solar people”")
		orla.waitText("Sol One")
		orla.check("journeys-start")
		orla.run(chromedp.Click(chromedp.CSS("form[method=post][action='/journeys/start'] button")))
		orla.waitText("2 started")
		orla.check("")
		waitMail(t, ep.Mail, "sol.one@example.org", "")
		orla.open("/journeys")
		orla.waitText("Sol One")
		orla.check("journeys")
	})

	t.Run("creates and publishes an event", func(t *testing.T) {
		orla.t = t
		eventTitle = "Solar panel workshop"
		start := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Hour)
		orla.open("/events/new")
		orla.run(
			chromedp.SendKeys(chromedp.CSS("#f-title"), eventTitle),
			chromedp.SendKeys(chromedp.CSS("[id='f-venue.name']"), "Community hall"),
			chromedp.SendKeys(chromedp.CSS("[id='f-venue.street']"), "Sonnenallee 1"),
			chromedp.SendKeys(chromedp.CSS("[id='f-venue.city']"), "Berlin"),
			chromedp.SetValue(chromedp.CSS("#f-start_time"), start.Format("2006-01-02T15:04")),
			chromedp.SetValue(chromedp.CSS("#f-end_time"), start.Add(2*time.Hour).Format("2006-01-02T15:04")),
			chromedp.SendKeys(chromedp.CSS("#f-capacity"), "20"),
		)
		orla.check("event-new")
		orla.run(chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		orla.waitText("The event was created as a draft")
		orla.run(chromedp.Click(chromedp.CSS("form[action$='/publish'] button")))
		orla.waitText("The event was published.")
		orla.check("event")
	})

	t.Run("a member answers and sees their check-in code", func(t *testing.T) {
		maya.t = t
		maya.run(chromedp.Navigate(ep.Console+"/signin?login_hint=dev-member-demo"), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if loc := maya.location(); !strings.HasSuffix(loc, "/me") {
			t.Fatalf("a member landed on %s", loc)
		}
		maya.waitText(eventTitle)
		maya.run(chromedp.Click(chromedp.CSS("button[name=answer][value=going]")))
		maya.waitText("Your answer was saved.")
		checkInCode = maya.text(".checkin-code")
		if checkInCode == "" {
			t.Fatal("no check-in code shown")
		}
		maya.check("me")
	})

	t.Run("a member cannot open organiser pages, and the APIs refuse them too", func(t *testing.T) {
		maya.t = t
		for _, p := range []string{"/members", "/dashboard", "/settings", "/audit"} {
			maya.run(chromedp.Navigate(ep.Console + p))
			maya.waitText("Your role in the community does not open this page.")
		}
		client := membersv1connect.NewMembersServiceClient(http.DefaultClient, ep.Members)
		req := connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo"})
		req.Header().Set("Authorization", "Bearer "+ep.Tokens[auth.Member])
		if _, err := client.ListMembers(context.Background(), req); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("ListMembers with a member's token: %v, want PermissionDenied", err)
		}
	})

	t.Run("checks the member in at the door on a phone", func(t *testing.T) {
		orla.t = t
		orla.open("/events")
		orla.run(chromedp.Click(chromedp.CSS("a[href*='/checkin']")), chromedp.WaitVisible(chromedp.CSS("#f-code")))
		orla.run(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-code"), "ZZZZZZZZ"), chromedp.Click(chromedp.CSS("#checkin button")))
		orla.waitText("No seat holds the code ZZZZZZZZ")
		// The answer replaced the form (htmx), keeping what was typed.
		if _, err := chromedp.Run(orla.ctx, chromedp.Evaluate[any](`document.querySelector("#f-code").value = ""`)); err != nil {
			t.Fatal(err)
		}
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-code"), checkInCode), chromedp.Click(chromedp.CSS("#checkin button")))
		orla.waitText("Maya Member is checked in.")
		orla.check("checkin")
		orla.run(chromedp.EmulateViewport(1280, 900))
	})

	t.Run("an event's host runs its door, and no other", func(t *testing.T) {
		orla.t, maya.t = t, t
		// Maya, a member with a seat at the organiser's workshop, hosts a
		// repair café the organiser sets up; she holds no organiser
		// rights.
		mayaID := tokenMemberID(t, ep.Tokens[auth.Member])
		events := eventsv1connect.NewEventsServiceClient(http.DefaultClient, ep.Events)
		start := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Hour)
		create := connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: &eventsv1.EventSpec{
			Title: "Repair café", Kind: eventsv1.EventKind_EVENT_KIND_OFFLINE,
			Venue:     &eventsv1.Venue{Name: "Library", Street: "Hauptstraße 5", City: "Berlin"},
			StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(2 * time.Hour)), TimeZone: "Europe/Berlin",
			Capacity: 10, HostIds: []string{mayaID}}})
		create.Header().Set("Authorization", "Bearer "+ep.Tokens[auth.Organiser])
		created, err := events.CreateEvent(context.Background(), create)
		if err != nil {
			t.Fatal(err)
		}
		publish := connect.NewRequest(&eventsv1.PublishEventRequest{Community: "demo", Id: created.Msg.GetEvent().GetId()})
		publish.Header().Set("Authorization", "Bearer "+ep.Tokens[auth.Organiser])
		if _, err := events.PublishEvent(context.Background(), publish); err != nil {
			t.Fatal(err)
		}

		maya.open("/me")
		maya.waitText("You host it")
		maya.run(chromedp.Click(chromedp.CSS("a[href^='/events/" + created.Msg.GetEvent().GetId() + "/attendees']")))
		maya.waitText("Nobody has answered yet.")
		maya.check("")
		maya.open("/me")
		maya.run(chromedp.Click(chromedp.CSS("a[href^='/events/"+created.Msg.GetEvent().GetId()+"/checkin']")), chromedp.WaitVisible(chromedp.CSS("#f-code")))
		// The events API answers her check-ins: a code of no seat of hers.
		maya.run(chromedp.SendKeys(chromedp.CSS("#f-code"), "ZZZZZZZZ"), chromedp.Click(chromedp.CSS("#checkin button")))
		maya.waitText("No seat holds the code ZZZZZZZZ")
		maya.check("")
		// The organiser's workshop, where she holds a seat, is not hers to
		// run, nor are the event pages.
		maya.open("/me")
		for _, a := range []string{"/checkin", "/attendees"} {
			if ok, err := chromedp.Run(maya.ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("a[href*='`+a+`']")].every(l => l.href.includes("`+created.Msg.GetEvent().GetId()+`"))`)); err != nil || !ok {
				t.Errorf("Maya's page links to the %s of an event she does not host", a)
			}
		}
		maya.open("/events")
		maya.waitText("Your role in the community does not open this page.")
		orla.open("/events")
		workshop, err := chromedp.Run(orla.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main a[href*='/checkin']")].map(l => l.getAttribute("href")).find(h => !h.includes("`+created.Msg.GetEvent().GetId()+`")) || ""`))
		if err != nil || !strings.HasPrefix(workshop, "/events/") {
			t.Fatalf("the workshop's check-in link: %q", workshop)
		}
		maya.open(workshop)
		maya.waitText("Only the organising team and the event's hosts open its attendees and check-in.")
	})

	t.Run("a journey links to its workflow in the Temporal Web UI", func(t *testing.T) {
		orla.t = t
		orla.open("/journeys")
		orla.run(chromedp.Click(chromedp.CSS("main table tbody a[href^='/journeys/']")))
		orla.waitText("Open in the Temporal Web UI")
		link := orla.attr("#workflow-link", "href")
		if !strings.HasPrefix(link, ep.TemporalUI+"/namespaces/demo/workflows/onboarding%2Fdemo%2F") {
			t.Fatalf("workflow link %q, want one into %s", link, ep.TemporalUI)
		}
		res, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %s", link, res.Status)
		}
	})

	t.Run("writes a template, previews it and announces it to the segment", func(t *testing.T) {
		orla.t = t
		orla.open("/communications/templates/new")
		orla.run(
			chromedp.SendKeys(chromedp.CSS("#f-name"), "solar-news"),
			chromedp.SendKeys(chromedp.CSS("#f-subject_0"), "Solar news for {{.Member.DisplayName}}"),
			chromedp.SendKeys(chromedp.CSS("#f-text_0"), "Hello {{.Member.DisplayName}}, the workshop is on! Unsubscribe: {{.UnsubscribeURL}}"))
		// The preview follows the typing, before anything is saved.
		orla.waitText("Solar news for Orla Organiser")
		orla.run(chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		orla.waitText("The template was saved.")
		orla.waitText("Solar news for Orla Organiser")
		orla.check("template")
		orla.open("/communications/announcements/new?template=solar-news&segment=" + segmentID)
		orla.check("announcement-new")
		orla.run(chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		orla.waitText("The announcement was queued.")
		waitMail(t, ep.Mail, "sol.one@example.org", "Solar news for Sol One")
		orla.open(strings.TrimPrefix(orla.location(), ep.Console))
		orla.check("announcement")
		orla.open("/communications/deliveries")
		orla.waitText("Solar news for Sol One")
		orla.check("deliveries")
	})

	t.Run("the dashboard shows the change", func(t *testing.T) {
		orla.t = t
		orla.open("/dashboard")
		if after := atoi(t, orla.text(".grid .card .stat")); after != membersBefore+3 {
			t.Fatalf("members on the dashboard: %d before, %d after importing 3", membersBefore, after)
		}
		// The insights API's goals and health charts (Chart.js draws them).
		orla.waitText("Newcomers per week")
		orla.waitText("Onboarding funnel")
		if n, err := chromedp.Run(orla.ctx, chromedp.Evaluate[int](`document.querySelectorAll("canvas[data-drawn]").length`)); err != nil || n == 0 {
			t.Errorf("no chart was drawn (%d, %v)", n, err)
		}
		orla.check("dashboard")
		// A goal set here shows on the goals page with its status.
		orla.open("/goals/new")
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-name"), "200-members"), chromedp.SetValue(chromedp.CSS("#f-metric"), "members.total"),
			chromedp.SendKeys(chromedp.CSS("#f-target"), "200"), chromedp.SendKeys(chromedp.CSS("#f-description"), "Enough hands for two repair cafés"),
			chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		orla.waitText("The goal was saved.")
		orla.waitText("Enough hands for two repair cafés")
		orla.check("goals")
	})

	t.Run("partners, settings and the audit log", func(t *testing.T) {
		orla.t = t
		orla.open("/partners/new")
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-name"), "Sunny Coop"),
			chromedp.SendKeys(chromedp.CSS("[id='f-stakeholder.influence']"), "4"),
			chromedp.SendKeys(chromedp.CSS("[id='f-stakeholder.interest']"), "5"),
			chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		orla.waitText("The partner was added.")
		orla.check("partner")
		orla.open("/partners")
		orla.waitText("Sunny Coop")
		orla.check("partners")
		orla.open("/partners/grid")
		orla.waitText("Sunny Coop")
		orla.check("stakeholder-grid")
		orla.open("/settings")
		orla.run(chromedp.SendKeys(chromedp.CSS("#f-name"), "import script"), chromedp.Click(chromedp.CSS("input[name=roles][value=staff]")),
			chromedp.Click(chromedp.CSS("form[action='/settings/keys'] button")))
		orla.waitText("shown this once")
		if secret := orla.text("#key-secret"); !strings.HasPrefix(secret, "kinship_") {
			t.Errorf("the key's secret is not shown: %q", secret)
		}
		orla.check("settings")
		orla.open("/audit")
		orla.waitText("api_key.created")
		orla.check("audit")
		orla.open("/members/" + memberID(t, orla, "Sol One"))
		orla.waitText("sol.one@example.org")
		orla.check("member")
	})

	t.Run("signing out ends the session", func(t *testing.T) {
		orla.t = t
		orla.open("/dashboard")
		orla.run(chromedp.Click(chromedp.CSS("form[action='/signout'] button")))
		orla.waitText("You have signed out")
		orla.run(chromedp.Navigate(ep.Console + "/members"))
		// Without a session the console sends the browser to sign in again
		// (the dev issuer's chooser).
		orla.waitText("Sign in")
		if loc := orla.location(); strings.HasPrefix(loc, ep.Console+"/members") {
			t.Fatalf("the members page opened after signing out: %s", loc)
		}
	})
}

// memberID finds a member's id on the members page by name.
func memberID(t *testing.T, b *person, name string) string {
	t.Helper()
	b.open("/members")
	q, _ := json.Marshal(name)
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main table a")].find(a => a.textContent === `+string(q)+`).getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(href, "/members/")
}

// waitMail waits for a message to addr in the sink (with subject, when
// given).
func waitMail(t *testing.T, mailURL, addr, subject string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := http.Get(mailURL + "/api/messages?to=" + addr)
		if err == nil {
			var msgs []struct {
				Subject string `json:"subject"`
			}
			_ = json.NewDecoder(res.Body).Decode(&msgs)
			res.Body.Close()
			for _, m := range msgs {
				if subject == "" || m.Subject == subject {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s (subject %q) in the sink", addr, subject)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var digits = regexp.MustCompile(`\d+`)

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(digits.FindString(s))
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// tokenMemberID reads the member id a dev token names (its
// kinship_member_id claim).
func tokenMemberID(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		MemberID string `json:"kinship_member_id"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.MemberID == "" {
		t.Fatalf("no member id in the token: %v", err)
	}
	return claims.MemberID
}
