package validate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "normalises case and space", in: "  Ada@Example.ORG ", want: "ada@example.org"},
		{name: "plus addressing allowed", in: "ada+kinship@example.org", want: "ada+kinship@example.org"},
		{name: "empty", in: "", wantErr: true},
		{name: "no at sign", in: "ada.example.org", wantErr: true},
		{name: "display name form refused", in: "Ada <ada@example.org>", wantErr: true},
		{name: "undotted domain refused", in: "ada@localhost", wantErr: true},
		{name: "two addresses refused", in: "a@example.org, b@example.org", wantErr: true},
		{name: "too long", in: strings.Repeat("a", 250) + "@example.org", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ferr := Email("email", tt.in)
			if (ferr != nil) != tt.wantErr {
				t.Fatalf("Email(%q) error = %v, wantErr %v", tt.in, ferr, tt.wantErr)
			}
			if ferr != nil {
				if ferr.Field != "email" {
					t.Errorf("field = %q, want email", ferr.Field)
				}
				if strings.Contains(ferr.Reason, tt.in) && tt.in != "" {
					t.Errorf("reason %q repeats the submitted value", ferr.Reason)
				}
				return
			}
			if got != tt.want {
				t.Errorf("Email(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "trims", in: "  Ada Lovelace ", want: "Ada Lovelace"},
		{name: "counts characters not bytes", in: strings.Repeat("é", 100), want: strings.Repeat("é", 100)},
		{name: "empty", in: "   ", wantErr: true},
		{name: "too long", in: strings.Repeat("x", 101), wantErr: true},
		{name: "line break", in: "Ada\nLovelace", wantErr: true},
		{name: "invalid utf-8", in: "Ada\xff", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ferr := Text("display_name", tt.in, 1, 100)
			if (ferr != nil) != tt.wantErr {
				t.Fatalf("Text(%q) error = %v, wantErr %v", tt.in, ferr, tt.wantErr)
			}
			if ferr == nil && got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFieldErrorsFindsEveryFieldThroughWrapping(t *testing.T) {
	errs := Errors{Field("email", "is required"), Field("display_name", "is required")}
	err := fmt.Errorf("join: %w", errs.Err())
	got := FieldErrors(err)
	if len(got) != 2 || got[0].Field != "email" || got[1].Field != "display_name" {
		t.Fatalf("FieldErrors = %v, want email and display_name", got)
	}
	if !IsInvalid(err) {
		t.Error("IsInvalid = false for wrapped field errors")
	}
	if IsInvalid(errors.New("disk full")) {
		t.Error("IsInvalid = true for a plain error")
	}
	if (Errors{}).Err() != nil {
		t.Error("empty Errors.Err() is not nil")
	}
}

func TestSlug(t *testing.T) {
	for _, ok := range []string{"demo", "climate-action", "a1"} {
		if _, ferr := Slug("community", ok, 63); ferr != nil {
			t.Errorf("Slug(%q) = %v, want ok", ok, ferr)
		}
	}
	for _, bad := range []string{"", "Demo", "-demo", "demo-", "de--mo", "de mo", strings.Repeat("a", 64)} {
		if _, ferr := Slug("community", bad, 63); ferr == nil {
			t.Errorf("Slug(%q) accepted", bad)
		}
	}
}
