package communications_test

import (
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/services/communications"
)

func validConfig() communications.Config {
	return communications.Config{HTTPAddr: ":8082", DatabaseURL: "x.db", KafkaBrokers: []string{"127.0.0.1:9092"}, Communities: []string{"demo"},
		SMTPURL: "smtp://mail.example.org", SMTPFrom: "Kinship <no-reply@mail.example.org>",
		Auth:       auth.TokenConfig{Issuer: "https://id.example.org", Audience: "kinship"},
		MembersURL: "http://members:8081", PublicURL: "https://kinship.example.org", UnsubscribeKey: unsubscribeKey}
}

func TestConfigValidation(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("a valid configuration: %v", err)
	}
	for name, tt := range map[string]struct {
		change func(*communications.Config)
		says   string // "" means valid
	}{
		"plain http public url":         {func(c *communications.Config) { c.PublicURL = "http://kinship.example.org" }, "must be https"},
		"plain http on loopback (dev)":  {func(c *communications.Config) { c.PublicURL = "http://127.0.0.1:8082" }, ""},
		"plain http on localhost (dev)": {func(c *communications.Config) { c.PublicURL = "http://localhost:8082" }, ""},
		"a public url with a query":     {func(c *communications.Config) { c.PublicURL = "https://kinship.example.org/?x=1" }, "without a query"},
		"DKIM without a selector":       {func(c *communications.Config) { c.DKIMKeyFile, c.DKIMDomain = "/k.pem", "example.org" }, "or none of them"},
		"DKIM for another domain": {func(c *communications.Config) {
			c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain = "/k.pem", "s1", "other.org"
		}, "DMARC"},
		"DKIM for the sender's parent": {func(c *communications.Config) {
			c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain = "/k.pem", "s1", "example.org"
		}, ""},
		"DKIM selector not a DNS label": {func(c *communications.Config) {
			c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain = "/k.pem", "s 1;", "example.org"
		}, "DNS names"},
		"an unreadable allow-list entry": {func(c *communications.Config) { c.OutboundAllow = []string{"10.0.0.0/8", "not a host!"} }, "allow-list"},
		"an allow-list of ranges and names": {func(c *communications.Config) {
			c.OutboundAllow = []string{"10.0.0.0/8", "bridge.chat.svc.cluster.local"}
		}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.says == "" && err != nil:
				t.Errorf("Validate = %v, want valid", err)
			case tt.says != "" && (err == nil || !strings.Contains(err.Error(), tt.says)):
				t.Errorf("Validate = %v, want an error saying %q", err, tt.says)
			}
		})
	}
}
