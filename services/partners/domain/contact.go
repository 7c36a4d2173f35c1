package domain

import (
	"regexp"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Contact is a person at a partner organisation: personal data. It never
// goes into logs, span attributes or events; ids do.
type Contact struct {
	ID        string
	Community string
	PartnerID string
	Name      string
	Email     string
	Phone     string
	Role      string
	Primary   bool
	// EmailConsent is the current consent to be e-mailed.
	EmailConsent bool
	Erased       bool
	CreatedAt    time.Time
	ErasedAt     time.Time
}

// ContactInput is what an organiser submits about a contact.
type ContactInput struct {
	Name    string
	Email   string
	Phone   string
	Role    string
	Primary bool
}

// Input returns c as an input, for merging an update into.
func (c Contact) Input() ContactInput {
	return ContactInput{Name: c.Name, Email: c.Email, Phone: c.Phone, Role: c.Role, Primary: c.Primary}
}

// NewContact validates in and returns the contact of partnerID it
// describes.
func NewContact(community, partnerID string, in ContactInput, id string, now time.Time) (Contact, error) {
	var errs validate.Errors
	if _, ferr := ValidateID("partner_id", partnerID, true); ferr != nil {
		errs = append(errs, ferr)
	}
	c, err := in.apply(Contact{ID: id, Community: community, PartnerID: partnerID})
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return Contact{}, err
	}
	c.CreatedAt = now.UTC().Truncate(time.Microsecond)
	return c, nil
}

// Update returns c with the validated fields of in.
func (c Contact) Update(in ContactInput) (Contact, error) {
	if c.Erased {
		return c, ErrContactErased
	}
	return in.apply(c)
}

func (in ContactInput) apply(c Contact) (Contact, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	var ferr *validate.FieldError
	c.Name, ferr = validate.Text("name", in.Name, 1, 100)
	add(ferr)
	c.Email = ""
	if strings.TrimSpace(in.Email) != "" {
		c.Email, ferr = validate.Email("email", in.Email)
		add(ferr)
	}
	c.Phone, ferr = ValidatePhone("phone", in.Phone)
	add(ferr)
	c.Role, ferr = validate.Text("role", in.Role, 0, 100)
	add(ferr)
	c.Primary = in.Primary
	return c, errs.Err()
}

// ContactPaths are the update-mask paths of a contact.
func ContactPaths() []string { return []string{"name", "email", "phone", "role", "primary"} }

// MergeContact returns current with the masked paths taken from update.
func MergeContact(current, update ContactInput, paths []string) (ContactInput, error) {
	if len(paths) == 0 {
		return current, validate.Field("update_mask", "names no field; give paths such as role or primary")
	}
	out := current
	for _, path := range paths {
		switch path {
		case "name":
			out.Name = update.Name
		case "email":
			out.Email = update.Email
		case "phone":
			out.Phone = update.Phone
		case "role":
			out.Role = update.Role
		case "primary":
			out.Primary = update.Primary
		default:
			return current, validate.Field("update_mask", "path %q is not one of %s", path, strings.Join(ContactPaths(), ", "))
		}
	}
	return out, nil
}

var phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ()./-]*[0-9]$`)

// ValidatePhone checks an optional phone number: digits with spaces,
// dashes, dots or brackets, an optional leading +, and 6 to 15 digits
// (the E.164 maximum). Runs of spaces are collapsed.
func ValidatePhone(field, raw string) (string, *validate.FieldError) {
	s := strings.Join(strings.Fields(raw), " ")
	if s == "" {
		return "", nil
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if !phonePattern.MatchString(s) || digits < 6 || digits > 15 {
		return "", validate.Field(field, "is not a phone number such as +49 30 1234567")
	}
	return s, nil
}

// ConsentPurpose is what a contact's consent is for: being e-mailed.
const ConsentPurpose = "email"

// ConsentRecord is one grant or withdrawal of a contact's consent to be
// e-mailed.
type ConsentRecord struct {
	ContactID     string
	Granted       bool
	OccurredAt    time.Time
	Source        string
	PolicyVersion string
}

// NewConsentRecord validates a grant or withdrawal.
func NewConsentRecord(contactID string, granted bool, source, policyVersion string, now time.Time) (ConsentRecord, error) {
	return newConsentRecord(contactID, granted, "source", source, policyVersion, now)
}

// NewConsentAtAdd validates the consent given when a contact is added,
// whose source arrives as consent_source.
func NewConsentAtAdd(contactID string, source, policyVersion string, now time.Time) (ConsentRecord, error) {
	return newConsentRecord(contactID, true, "consent_source", source, policyVersion, now)
}

func newConsentRecord(contactID string, granted bool, sourceField, source, policyVersion string, now time.Time) (ConsentRecord, error) {
	var errs validate.Errors
	src, ferr := validate.Text(sourceField, source, 1, 100)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	version, ferr := validate.Text("policy_version", policyVersion, 1, 50)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return ConsentRecord{}, err
	}
	return ConsentRecord{ContactID: contactID, Granted: granted, OccurredAt: now.UTC().Truncate(time.Microsecond), Source: src, PolicyVersion: version}, nil
}
