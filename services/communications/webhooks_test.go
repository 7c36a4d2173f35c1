package communications_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// receiver is a webhook endpoint answering with the next scripted status
// and keeping what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []received
}

type received struct {
	at        time.Time
	body      []byte
	signature string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, received{at: time.Now(), body: body, signature: req.Header.Get("X-Kinship-Signature")})
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	w.WriteHeader(status)
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// verify checks a signature header the way a receiver would, written here
// from the documented scheme rather than with the service's code.
func verify(t *testing.T, secret string, r received) {
	t.Helper()
	var ts, sig string
	for _, part := range strings.Split(r.signature, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		t.Fatalf("signature header %q has no recent timestamp", r.signature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(r.body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("signature %q does not match the body (want v1=%s)", r.signature, want)
	}
}

func TestWebhooksAreSignedRetriedAndDisabledWhenGone(t *testing.T) {
	f := start(t, options{retryBase: 300 * time.Millisecond})
	ctx := context.Background()
	saveTemplate(t, f, "news", plainTemplate...)

	flaky := &receiver{statuses: []int{http.StatusInternalServerError}}
	gone := &receiver{statuses: []int{http.StatusGone}}
	flakySrv, goneSrv := httptest.NewServer(flaky), httptest.NewServer(gone)
	defer flakySrv.Close()
	defer goneSrv.Close()
	create := func(url string, format communicationsv1.WebhookFormat) *communicationsv1.CreateWebhookResponse {
		res, err := f.announcements.CreateWebhook(ctx, connect.NewRequest(&communicationsv1.CreateWebhookRequest{Community: "demo", Url: url, Format: format}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg
	}
	slack := create(flakySrv.URL+"/services/T000/B000/secret-path", communicationsv1.WebhookFormat_WEBHOOK_FORMAT_SLACK)
	generic := create(goneSrv.URL+"/hook", communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC)
	if slack.GetSecret() == "" {
		t.Fatal("no signing secret returned")
	}

	announce(t, f, "hooks-1", &communicationsv1.CreateAnnouncementRequest{Template: "news", Webhooks: true})
	eventually(t, "the flaky receiver gets the retry", func() bool { return len(flaky.received()) == 2 })
	got := flaky.received()
	for _, r := range got {
		verify(t, slack.GetSecret(), r)
	}
	if gap := got[1].at.Sub(got[0].at); gap < 300*time.Millisecond {
		t.Errorf("retry came %v after the 500, want a backoff of at least 300ms", gap)
	}
	var payload map[string]string
	if err := json.Unmarshal(got[1].body, &payload); err != nil || !strings.HasPrefix(payload["text"], "*News*") {
		t.Errorf("slack payload = %s (%v)", got[1].body, err)
	}

	eventually(t, "the gone receiver's webhook is disabled", func() bool {
		res, err := f.announcements.ListWebhooks(ctx, connect.NewRequest(&communicationsv1.ListWebhooksRequest{Community: "demo"}))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Msg.GetWebhooks() {
			if w.GetId() == generic.GetWebhook().GetId() {
				return !w.GetEnabled() && strings.Contains(w.GetDisabledReason(), "410")
			}
		}
		return false
	})
	verify(t, generic.GetSecret(), gone.received()[0])

	res, err := f.announcements.ListWebhooks(ctx, connect.NewRequest(&communicationsv1.ListWebhooksRequest{Community: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Msg.GetWebhooks() {
		if strings.Contains(w.GetUrl(), "secret-path") {
			t.Errorf("ListWebhooks shows the credential in %s", w.GetUrl())
		}
	}

	// The next announcement skips the disabled webhook.
	announce(t, f, "hooks-2", &communicationsv1.CreateAnnouncementRequest{Template: "news", Webhooks: true})
	eventually(t, "the flaky receiver gets the second announcement", func() bool { return len(flaky.received()) == 3 })
	time.Sleep(200 * time.Millisecond)
	if n := len(gone.received()); n != 1 {
		t.Errorf("posts to the disabled webhook = %d, want 1", n)
	}
}

// Finding 2 of issue 14: every internal destination an attacker tried is
// refused when the webhook is created, naming the url field; nothing is
// stored.
func TestCreateWebhookRefusesInternalDestinations(t *testing.T) {
	f := start(t, options{outboundAllow: []string{}})
	ctx := context.Background()
	for _, url := range []string{
		"https://169.254.169.254/latest/meta-data/", "https://[fd00:ec2::254]/", "https://10.0.0.1/", "https://192.168.1.1/",
		"https://kubernetes.default.svc/", "https://chat.bridge.svc.cluster.local/hook", "https://localhost/", "https://[::1]/",
		"https://0.0.0.0/", "https://2130706433/", "https://[::ffff:127.0.0.1]/", "https://100.64.0.1/", "http://hooks.example.org/plain",
	} {
		t.Run(url, func(t *testing.T) {
			_, err := f.announcements.CreateWebhook(ctx, connect.NewRequest(&communicationsv1.CreateWebhookRequest{Community: "demo", Url: url,
				Format: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), []string{"url"}) {
				t.Errorf("CreateWebhook(%s) = %v, want InvalidArgument on url", url, err)
			}
		})
	}
	if n := f.count(t, "SELECT count(*) FROM webhooks"); n != 0 {
		t.Errorf("webhooks stored = %d", n)
	}
}

// The delivery log tells the organiser what happened without telling
// whether a port is open, and a redirect is not followed.
func TestWebhookFailuresRevealNoPortStateAndRedirectsAreNotFollowed(t *testing.T) {
	f := start(t, options{retryBase: time.Hour})
	ctx := context.Background()
	saveTemplate(t, f, "news", plainTemplate...)
	inside := &receiver{}
	insideSrv := httptest.NewServer(inside)
	defer insideSrv.Close()
	redirector := httptest.NewServer(http.RedirectHandler(insideSrv.URL+"/admin", http.StatusTemporaryRedirect))
	defer redirector.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	for _, url := range []string{closedURL, redirector.URL + "/hook"} {
		if _, err := f.announcements.CreateWebhook(ctx, connect.NewRequest(&communicationsv1.CreateWebhookRequest{Community: "demo", Url: url,
			Format: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC})); err != nil {
			t.Fatal(err)
		}
	}
	a := announce(t, f, "probe", &communicationsv1.CreateAnnouncementRequest{Template: "news", Webhooks: true})
	var reasons []string
	eventually(t, "both posts have an outcome", func() bool {
		res, err := f.client.ListDeliveries(ctx, connect.NewRequest(&communicationsv1.ListDeliveriesRequest{Community: "demo", AnnouncementId: a.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		reasons = reasons[:0]
		for _, m := range res.Msg.GetMessages() {
			if m.GetFailureReason() != "" {
				reasons = append(reasons, m.GetFailureReason())
			}
		}
		return len(reasons) == 2
	})
	slices.Sort(reasons)
	if reasons[0] != "HTTP 3xx from the destination (redirects are not followed)" || reasons[1] != "could not connect" {
		t.Errorf("delivery log reasons = %q", reasons)
	}
	for _, r := range reasons {
		if strings.Contains(r, "connection refused") || strings.Contains(r, ln.Addr().String()) || strings.Contains(r, "127.0.0.1") {
			t.Errorf("reason %q reveals the destination's network", r)
		}
	}
	if n := len(inside.received()); n != 0 {
		t.Errorf("the redirect target received %d posts", n)
	}
}
