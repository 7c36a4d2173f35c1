// Package validate holds the field-level validation error every domain
// package returns for bad input, and small checks shared by them. The api
// rooms turn a FieldError into Connect InvalidArgument naming the field.
package validate

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError says which request field is wrong and why. Reason never repeats
// the submitted value: it may be personal data.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Field returns a FieldError for field.
func Field(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Errors is a list of field errors reported together.
type Errors []*FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.As find each FieldError.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns nil when es is empty and es otherwise.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// FieldErrors returns every FieldError in err's tree.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// IsInvalid reports whether err holds at least one FieldError.
func IsInvalid(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe)
}

// MaxEmailLength is the longest address SMTP can carry (RFC 5321).
const MaxEmailLength = 254

// Email normalises an e-mail address (trimmed, lower-case) and checks that it
// is a bare addr-spec with a dotted domain.
func Email(field, raw string) (string, *FieldError) {
	s := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case s == "":
		return "", Field(field, "is required")
	case len(s) > MaxEmailLength:
		return "", Field(field, "must be at most %d characters", MaxEmailLength)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", Field(field, "is not a valid e-mail address")
	}
	at := strings.LastIndexByte(s, '@')
	if domain := s[at+1:]; !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", Field(field, "is not a valid e-mail address")
	}
	return s, nil
}

// Text trims raw and checks it is valid UTF-8 of min to max characters on one
// line without control characters.
func Text(field, raw string, min, max int) (string, *FieldError) {
	if !utf8.ValidString(raw) {
		return "", Field(field, "must be valid UTF-8")
	}
	s := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && n == 0:
		return "", Field(field, "is required")
	case n < min:
		return "", Field(field, "must be at least %d characters", min)
	case n > max:
		return "", Field(field, "must be at most %d characters", max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", Field(field, "must not contain control characters or line breaks")
	}
	return s, nil
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// MaxCommunityLength bounds a community slug; it names a Kubernetes
// namespace and Kafka topics, so it stays a DNS label.
const MaxCommunityLength = 63

// Community checks a community slug.
func Community(raw string) (string, *FieldError) {
	return Slug("community", raw, MaxCommunityLength)
}

// Slug checks raw is 1 to max characters of a-z, 0-9 and single inner dashes.
func Slug(field, raw string, max int) (string, *FieldError) {
	switch {
	case raw == "":
		return "", Field(field, "is required")
	case len(raw) > max:
		return "", Field(field, "must be at most %d characters", max)
	case !slugPattern.MatchString(raw):
		return "", Field(field, "must be lower-case letters, digits and single dashes")
	}
	return raw, nil
}
