package devstack

import (
	"path/filepath"

	"github.com/kinshiphq/kinship/console"
	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// consoleClientID is the console's OIDC client at the dev issuer: a public
// client (PKCE, no secret), as a browser-facing app on a laptop is.
const consoleClientID = "kinship-console"

func consoleClient(consoleURL string) localissuer.Client {
	return localissuer.Client{ID: consoleClientID, RedirectURIs: []string{consoleURL + "/auth/callback"}, Audience: devAudience}
}

// consoleConfig runs the console for the first community, against the
// local issuer, keeping sessions in the data folder so a restart keeps
// people signed in.
func consoleConfig(cfg Config, ep Endpoints, trust auth.TokenConfig) console.Config {
	return console.Config{
		Community: cfg.Communities[0],
		PublicURL: ep.Console,
		Auth:      trust,
		ClientID:  consoleClientID,
		APIs: apis.URLs{Members: ep.Members, Events: ep.Events, Communications: ep.Communications,
			Partners: ep.Partners, Journeys: ep.Worker, Insights: ep.Insights},
		SessionFile: filepath.Join(cfg.DataDir, "console-sessions.json"),
	}
}

// personSubject is the token subject of a seeded person.
func personSubject(role auth.Role, community string) string {
	return "dev-" + string(role) + "-" + community
}
