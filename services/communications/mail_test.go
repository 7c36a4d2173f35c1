package communications_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/emersion/go-msgauth/dkim"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
)

// parsedMail is one message as read from the sink's .eml files with the
// standard library, independently of the sink's own parser.
type parsedMail struct {
	header     mail.Header
	subject    string
	text, html string
}

func readMailDir(t *testing.T, dir string) map[string]parsedMail {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]parsedMail{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s is not RFC 5322: %v", file, err)
		}
		p := parsedMail{header: msg.Header}
		if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
			t.Fatal(err)
		}
		mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		switch {
		case err != nil:
			t.Fatalf("Content-Type = %q: %v", msg.Header.Get("Content-Type"), err)
		case mediaType == "text/plain":
			body, _ := io.ReadAll(msg.Body)
			p.text = decodeQP(t, msg.Header.Get("Content-Transfer-Encoding"), body)
			out[address(t, msg)] = p
			continue
		case mediaType != "multipart/alternative":
			t.Fatalf("Content-Type = %q, want multipart/alternative or text/plain", mediaType)
		}
		parts := multipart.NewReader(msg.Body, params["boundary"])
		for {
			part, err := parts.NextPart() // decodes quoted-printable
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(part)
			body := strings.ReplaceAll(string(raw), "\r\n", "\n")
			switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
			case "text/plain":
				p.text = body
			case "text/html":
				p.html = body
			default:
				t.Errorf("unexpected part %s", ct)
			}
		}
		out[address(t, msg)] = p
	}
	return out
}

func address(t *testing.T, msg *mail.Message) string {
	t.Helper()
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 {
		t.Fatalf("To = %q", msg.Header.Get("To"))
	}
	return to[0].Address
}

func decodeQP(t *testing.T, encoding string, body []byte) string {
	t.Helper()
	if !strings.EqualFold(encoding, "quoted-printable") {
		return strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n")
}

func saveTemplate(t *testing.T, f *fixture, name string, variants ...*communicationsv1.TemplateVariant) {
	t.Helper()
	if _, err := f.templates.SaveTemplate(context.Background(), connect.NewRequest(&communicationsv1.SaveTemplateRequest{
		Community: "demo", Name: name, Variants: variants})); err != nil {
		t.Fatal(err)
	}
}

func announce(t *testing.T, f *fixture, key string, filter *communicationsv1.CreateAnnouncementRequest) *communicationsv1.Announcement {
	t.Helper()
	req := filter
	req.Community, req.IdempotencyKey = "demo", key
	res, err := f.announcements.CreateAnnouncement(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetAnnouncement()
}

var newsTemplate = []*communicationsv1.TemplateVariant{
	{Subject: "News for {{.Member.DisplayName}}", TextBody: "Hello {{.Member.DisplayName}},\n{{.Vars.topic}} is on.\nUnsubscribe: {{.UnsubscribeURL}}\n",
		HtmlBody: `<p>Hello {{.Member.DisplayName}},</p><p>{{.Vars.topic}} is on.</p><a href="{{.UnsubscribeURL}}">Unsubscribe</a>`},
	{Locale: "de", Subject: "Neuigkeiten für {{.Member.DisplayName}}", TextBody: "Hallo {{.Member.DisplayName}},\n{{.Vars.topic}}.\n"},
}

func TestAnnouncementMailIsMultipartWithOneClickUnsubscribe(t *testing.T) {
	ada, grace := recipient(0), recipient(1)
	ada.DisplayName = "Ada <b>Lovelace</b>"
	grace.Locale = "de-AT"
	f := start(t, options{recipients: []domain.Recipient{ada, grace}})
	ctx := context.Background()
	saveTemplate(t, f, "news", newsTemplate...)
	a := announce(t, f, "news-1", &communicationsv1.CreateAnnouncementRequest{Template: "news", Variables: map[string]string{"topic": "The repair café"}})
	if a.GetRecipients() != 2 {
		t.Fatalf("recipients = %d, want 2", a.GetRecipients())
	}
	eventually(t, "both e-mails arrive", func() bool { return len(f.sink.Messages("")) == 2 })

	mails := readMailDir(t, f.mailDir)
	got := mails[ada.Email]
	if got.subject != "News for Ada <b>Lovelace</b>" {
		t.Errorf("subject = %q", got.subject)
	}
	if from := got.header.Get("From"); !strings.Contains(from, "no-reply@kinship.test") {
		t.Errorf("From = %q", from)
	}
	if !strings.Contains(got.text, "Hello Ada <b>Lovelace</b>,\nThe repair café is on.") {
		t.Errorf("text part = %q", got.text)
	}
	if !strings.Contains(got.html, "Hello Ada &lt;b&gt;Lovelace&lt;/b&gt;,") || strings.Contains(got.html, "<b>") {
		t.Errorf("html part is not escaped: %q", got.html)
	}
	if post := got.header.Get("List-Unsubscribe-Post"); post != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", post)
	}
	link := regexp.MustCompile(`^<(` + regexp.QuoteMeta(f.url) + `/unsubscribe\?t=[^>]+)>$`).FindStringSubmatch(got.header.Get("List-Unsubscribe"))
	if link == nil {
		t.Fatalf("List-Unsubscribe = %q, want <%s/unsubscribe?t=…>", got.header.Get("List-Unsubscribe"), f.url)
	}
	if !strings.Contains(got.html, `href="`+strings.ReplaceAll(link[1], "&", "&amp;")+`"`) && !strings.Contains(got.html, link[1]) {
		t.Errorf("html part lacks the unsubscribe link %s", link[1])
	}
	if de := mails[grace.Email]; de.subject != "Neuigkeiten für Member 1" || !strings.HasPrefix(de.text, "Hallo Member 1,") || de.html != "" {
		t.Errorf("de-AT recipient got %q / %q, want the de variant, text only", de.subject, de.text)
	}

	// A GET (a link scanner) only shows the confirmation page.
	res, err := http.Get(link[1])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET unsubscribe = %d", res.StatusCode)
	}
	prefs := func(id string) *communicationsv1.Preferences {
		res, err := f.announcements.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: "demo", MemberId: id}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetPreferences()
	}
	if !prefs(ada.MemberID).GetAnnouncements() {
		t.Fatal("a GET unsubscribed the member")
	}
	// The mail client's one-click POST (RFC 8058).
	res, err = http.Post(link[1], "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST = %d", res.StatusCode)
	}
	if p := prefs(ada.MemberID); p.GetAnnouncements() || !p.GetDigest() {
		t.Errorf("preferences after unsubscribing = %v, want announcements off and digest kept", p)
	}
	eventually(t, "Unsubscribed reaches the topic", func() bool {
		return slices.ContainsFunc(f.topicEvents(t), func(e kafka.Event) bool { return e.Type == events.TypeUnsubscribed && e.Key == ada.MemberID })
	})

	// A tampered token is refused.
	res, err = http.Post(link[1]+"x", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("tampered token = %d, want 400", res.StatusCode)
	}

	// The next announcement leaves Ada out.
	if b := announce(t, f, "news-2", &communicationsv1.CreateAnnouncementRequest{Template: "news"}); b.GetRecipients() != 1 {
		t.Errorf("recipients after unsubscribing = %d, want 1", b.GetRecipients())
	}
}

func TestHardBounceSuppressesTheAddress(t *testing.T) {
	f := start(t, options{recipients: []domain.Recipient{member("m1", "ada@example.org")}})
	ctx := context.Background()
	res, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetMessage().GetId()
	bounce := func(token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, f.url+"/bounces", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	report := `{"community":"demo","message_id":"<` + id + `@kinship.test>","hard":true,"reason":"550 5.1.1 mailbox unknown"}`
	if code := bounce("", report); code != http.StatusUnauthorized {
		t.Errorf("bounce without the token = %d, want 401", code)
	}
	if code := bounce(f.bounceSecret, report); code != http.StatusUnauthorized {
		t.Errorf("bounce with the instance's secret itself = %d, want 401: only the community's token counts", code)
	}
	if code := bounce(f.bounceToken, "not json"); code != http.StatusBadRequest {
		t.Errorf("malformed bounce = %d, want 400", code)
	}
	if code := bounce(f.bounceToken, report); code != http.StatusNoContent {
		t.Fatalf("bounce = %d, want 204", code)
	}
	got, err := f.client.GetMessage(ctx, connect.NewRequest(&communicationsv1.GetMessageRequest{Community: "demo", Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_BOUNCED {
		t.Errorf("status after a hard bounce = %v", got.Msg.GetMessage().GetStatus())
	}
	sps, err := f.announcements.ListSuppressions(ctx, connect.NewRequest(&communicationsv1.ListSuppressionsRequest{Community: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(sps.Msg.GetSuppressions()) != 1 || sps.Msg.GetSuppressions()[0].GetEmail() != "ada@example.org" {
		t.Fatalf("suppressions = %v", sps.Msg.GetSuppressions())
	}
	again, err := f.client.SendMessage(ctx, send("receipt/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if m := again.Msg.GetMessage(); m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SUPPRESSED || m.GetFailureReason() != domain.ReasonAddressBlocked {
		t.Errorf("send to a suppressed address = %v, want SUPPRESSED (%s)", m, domain.ReasonAddressBlocked)
	}
	if n := len(f.sink.Messages("ada@example.org")); n != 1 {
		t.Errorf("e-mails to the bounced address = %d, want only the first", n)
	}
	eventually(t, "MessageBounced and MessageSuppressed reach the topic", func() bool {
		var types []string
		for _, e := range f.topicEvents(t) {
			types = append(types, e.Type)
		}
		return slices.Contains(types, events.TypeMessageBounced) && slices.Contains(types, events.TypeMessageSuppressed)
	})
}

// Clicking one-click unsubscribe again and again withdraws once: one
// Unsubscribed event, one audit entry.
func TestRepeatedUnsubscribesPublishOneEvent(t *testing.T) {
	ada := recipient(0)
	f := start(t, options{recipients: []domain.Recipient{ada}})
	link := f.url + "/unsubscribe?t=" + domain.SignUnsubscribe(unsubscribeKey, domain.UnsubscribeToken{Community: "demo", MemberID: ada.MemberID,
		Purpose: domain.PurposeAnnouncements, Expires: time.Now().Add(time.Hour)})
	for click := range 3 {
		res, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("click %d = %d", click+1, res.StatusCode)
		}
	}
	if n := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", events.TypeUnsubscribed); n != 1 {
		t.Errorf("Unsubscribed events after three clicks = %d, want 1", n)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE action = 'consent.withdrawn' AND actor_kind = 'anonymous'"); n != 1 {
		t.Errorf("audit entries after three clicks = %d, want 1", n)
	}
}

// Finding 8 of issue 14: a community's bounce token reports bounces of
// that community only.
func TestABounceTokenServesItsOwnCommunityOnly(t *testing.T) {
	f := start(t, options{communities: []string{"demo", "other"}, recipients: []domain.Recipient{member("m1", "ada@example.org")}})
	res, err := f.client.SendMessage(context.Background(), send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetMessage().GetId()
	otherToken := communications.CommunityBounceToken(f.bounceSecret, "other")
	for name, tt := range map[string]struct {
		token, community string
	}{
		"other's token for a demo report": {otherToken, "demo"},
		"other's token naming other":      {otherToken, "other"}, // the message is demo's: not found there
		"demo's token naming other":       {f.bounceToken, "other"},
		"demo's token, an unknown place":  {f.bounceToken, "elsewhere"},
		"the instance's secret, for demo": {f.bounceSecret, "demo"},
	} {
		t.Run(name, func(t *testing.T) {
			code := f.postBounce(t, tt.token, `{"community":"`+tt.community+`","message_id":"<`+id+`@kinship.test>","hard":true}`)
			if code != http.StatusUnauthorized && code != http.StatusNotFound {
				t.Errorf("bounce = %d, want 401 or 404", code)
			}
		})
	}
	if n := f.count(t, "SELECT count(*) FROM suppressions"); n != 0 {
		t.Fatalf("suppressions after refused reports = %d", n)
	}
	if code := f.postBounce(t, f.bounceToken, `{"community":"demo","message_id":"<`+id+`@kinship.test>","hard":true}`); code != http.StatusNoContent {
		t.Errorf("demo's own report = %d, want 204", code)
	}
}

// With a DKIM key configured, announcement mail verifies against the
// published key, and the signature covers both List-Unsubscribe headers.
func TestMailIsDKIMSigned(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	f := start(t, options{recipients: []domain.Recipient{recipient(0)}, dkimKeyFile: keyFile})
	saveTemplate(t, f, "news", plainTemplate...)
	announce(t, f, "signed", &communicationsv1.CreateAnnouncementRequest{Template: "news"})
	eventually(t, "the e-mail arrives", func() bool { return len(f.sink.Messages("")) == 1 })
	files, _ := filepath.Glob(filepath.Join(f.mailDir, "*.eml"))
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
		if domain != "test._domainkey.kinship.test" {
			return nil, errors.New("no such record")
		}
		return []string{record}, nil
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verification = %v, %v", vs, err)
	}
	for _, h := range []string{"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} {
		if !slices.ContainsFunc(vs[0].HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
			t.Errorf("the signature does not cover %s", h)
		}
	}
}
