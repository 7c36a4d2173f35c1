package domain

import (
	"slices"
	"strings"
	"unicode"

	"github.com/kinshiphq/kinship/internal/validate"
)

// MaxSearchQueryLength bounds a member search, in characters.
const MaxSearchQueryLength = 100

// searchCeiling is the greatest code point: every term starting with a
// prefix p sorts (bytewise) at or after p and before p + searchCeiling.
// Terms never hold it (normaliseSearch drops it).
const searchCeiling = '\U0010FFFF'

// normaliseSearch lower-cases s and collapses runs of white space into one
// space, trimmed; it drops the search ceiling.
func normaliseSearch(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == searchCeiling {
			return -1
		}
		return r
	}, strings.ToLower(s))
	return strings.Join(strings.Fields(s), " ")
}

// SearchTerms are the terms a member is found by: the whole display name,
// each of its words (split at white space and hyphens) and the e-mail
// address, all normalised; a member is found when a query is a prefix of
// one of them. A term that begins another (the name's first word, which
// begins the whole name) finds nobody the longer one does not, so it is
// left out: every term is a row, and an entry in the term index, written
// with each join. Empty for an erased member (empty name and address).
func SearchTerms(displayName, email string) []string {
	name := normaliseSearch(displayName)
	all := []string{name}
	all = append(all, strings.FieldsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == '-' })...)
	all = append(all, normaliseSearch(email))
	var out []string
	for i, t := range all {
		if t == "" || slices.Contains(all[:i], t) || slices.ContainsFunc(all, func(u string) bool { return u != t && strings.HasPrefix(u, t) }) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// SearchQuery is a checked member search.
type SearchQuery struct {
	// Prefix is the normalised query; empty means no search.
	Prefix string
}

// ParseSearchQuery checks a member search as typed: empty means none; at
// most MaxSearchQueryLength characters of one line, not only spaces.
// Errors are *validate.FieldError naming field.
func ParseSearchQuery(field, raw string) (SearchQuery, error) {
	if raw == "" {
		return SearchQuery{}, nil
	}
	if strings.TrimSpace(raw) == "" {
		return SearchQuery{}, validate.Field(field, "must not be blank")
	}
	s, ferr := validate.Text(field, raw, 1, MaxSearchQueryLength)
	if ferr != nil {
		return SearchQuery{}, ferr
	}
	q := SearchQuery{Prefix: normaliseSearch(s)}
	if q.Prefix == "" {
		return SearchQuery{}, validate.Field(field, "must not be blank")
	}
	return q, nil
}

// Range returns the bounds of the terms the query matches: from inclusive,
// to exclusive, in bytewise order.
func (q SearchQuery) Range() (from, to string) {
	return q.Prefix, q.Prefix + string(searchCeiling)
}
