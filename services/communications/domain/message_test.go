package domain

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

func validSend() SendRequest {
	return SendRequest{Community: "demo", IdempotencyKey: "onboarding/demo/m1/welcome", MemberID: "m1", To: "Ada@Example.org", Subject: "Welcome", Text: "Hello"}
}

func TestNewMessage(t *testing.T) {
	m, err := NewMessage(validSend(), "id", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusPending || m.To != "ada@example.org" || m.Fingerprint == "" {
		t.Errorf("NewMessage = %+v", m)
	}
	other := validSend()
	other.Text = "Hello again"
	m2, _ := NewMessage(other, "id2", time.Now())
	if m2.Fingerprint == m.Fingerprint {
		t.Error("different bodies share a fingerprint")
	}
	same, _ := NewMessage(validSend(), "id3", time.Now().Add(time.Hour))
	if same.Fingerprint != m.Fingerprint {
		t.Error("the same request has two fingerprints")
	}
}

func TestNewMessageNamesInvalidFields(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*SendRequest)
		field  string
	}{
		{"no key", func(r *SendRequest) { r.IdempotencyKey = "" }, "idempotency_key"},
		{"key with space", func(r *SendRequest) { r.IdempotencyKey = "a b" }, "idempotency_key"},
		{"bad recipient", func(r *SendRequest) { r.To = "nobody" }, "to_email"},
		{"multi-line subject", func(r *SendRequest) { r.Subject = "a\r\nBcc: x@example.org" }, "subject"},
		{"empty body", func(r *SendRequest) { r.Text = "" }, "text_body"},
		{"huge body", func(r *SendRequest) { r.Text = strings.Repeat("x", MaxTextBytes+1) }, "text_body"},
		{"no member", func(r *SendRequest) { r.MemberID = "" }, "member_id"},
		{"bad community", func(r *SendRequest) { r.Community = "Demo!" }, "community"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := validSend()
			tt.mutate(&req)
			_, err := NewMessage(req, "id", time.Now())
			var fields []string
			for _, fe := range validate.FieldErrors(err) {
				fields = append(fields, fe.Field)
			}
			if !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("invalid fields = %v, want [%s]", fields, tt.field)
			}
		})
	}
}
