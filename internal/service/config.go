package service

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/validate"
)

// MaxCommunityLength bounds a community slug, as the services' domains
// and the operator's CRD do.
const MaxCommunityLength = 63

// Common are the settings every service shares.
type Common struct {
	// Name prefixes every error, such as "members".
	Name         string
	HTTPAddr     string
	DatabaseURL  string
	KafkaBrokers []string
	Communities  []string
	Auth         auth.TokenConfig
}

// Check reports every missing or malformed common setting.
func (c Common) Check() []error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, fmt.Errorf("%s: http address is empty", c.Name))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, fmt.Errorf("%s: database url is empty", c.Name))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, fmt.Errorf("%s: no kafka brokers", c.Name))
	}
	if len(c.Communities) == 0 {
		errs = append(errs, fmt.Errorf("%s: no communities", c.Name))
	}
	for _, slug := range c.Communities {
		if _, ferr := validate.Slug("community", slug, MaxCommunityLength); ferr != nil {
			errs = append(errs, fmt.Errorf("%s: community %q %s", c.Name, slug, ferr.Reason))
		}
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
	}
	return errs
}

// CheckHTTPURL reports raw, the setting what of service name, unless it
// is an absolute http or https URL.
func CheckHTTPURL(name, what, raw string) error {
	if !isHTTPURL(raw) {
		return fmt.Errorf("%s: %s %q is not an http(s) URL", name, what, raw)
	}
	return nil
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// errNoCredentials is returned when a service must call the members
// service but was given no workload credentials.
var errNoCredentials = errors.New("no workload credentials to call the members service with")
