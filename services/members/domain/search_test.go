package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
)

func TestParseSearchQuery(t *testing.T) {
	tests := []struct {
		name, raw, want string
		bad             bool
	}{
		{"empty is no search", "", "", false},
		{"lower-cased and trimmed", "  Ada  LOVE ", "ada love", false},
		{"the longest allowed", strings.Repeat("é", domain.MaxSearchQueryLength), strings.Repeat("é", domain.MaxSearchQueryLength), false},
		{"too long", strings.Repeat("a", domain.MaxSearchQueryLength+1), "", true},
		{"spaces only", "   ", "", true},
		{"a line break", "ada\nlove", "", true},
		{"a control character", "ada\x00", "", true},
		{"invalid UTF-8", "ada\xff", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := domain.ParseSearchQuery("query", tt.raw)
			if tt.bad {
				var fe *validate.FieldError
				if !errors.As(err, &fe) || fe.Field != "query" {
					t.Fatalf("ParseSearchQuery(%q) = %v, want a field error naming query", tt.raw, err)
				}
				return
			}
			if err != nil || q.Prefix != tt.want {
				t.Errorf("ParseSearchQuery(%q) = %q, %v; want %q", tt.raw, q.Prefix, err, tt.want)
			}
		})
	}
}

func TestSearchTerms(t *testing.T) {
	got := domain.SearchTerms("Mary-Jane  van der Berg", "MJ@Example.org")
	// "mary" begins the whole name: whoever it finds, the name finds.
	want := []string{"mary-jane van der berg", "jane", "van", "der", "berg", "mj@example.org"}
	if !slices.Equal(got, want) {
		t.Errorf("SearchTerms = %q, want %q", got, want)
	}
	// Every prefix of a word, the name or the address still finds the
	// member: it begins one of the terms.
	for _, name := range []string{"Mary-Jane  van der Berg", "Ann Annabel", "Ada", "-Bo Bo", "Van van"} {
		terms := domain.SearchTerms(name, "MJ@Example.org")
		words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == ' ' || r == '-' })
		for _, w := range append(words, strings.ToLower(strings.Join(strings.Fields(name), " ")), "mj@example.org") {
			for n := 1; n <= len(w); n++ {
				if !slices.ContainsFunc(terms, func(term string) bool { return strings.HasPrefix(term, w[:n]) }) {
					t.Errorf("terms of %q = %q: nothing begins with %q", name, terms, w[:n])
				}
			}
		}
	}
	if got := domain.SearchTerms("", ""); len(got) != 0 {
		t.Errorf("terms of an erased member = %q", got)
	}
	from, to := (domain.SearchQuery{Prefix: "ada"}).Range()
	for _, term := range []string{"ada", "ada lovelace", "adaé", "ada\U0010FFFE"} {
		if term < from || term >= to {
			t.Errorf("%q outside [%q, %q)", term, from, to)
		}
	}
	for _, term := range []string{"ad", "adb", "ac"} {
		if term >= from && term < to {
			t.Errorf("%q inside the range of ada", term)
		}
	}
}
