package communications_test

import (
	"bytes"
	"context"
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

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
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
	f := start(t, options{})
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
