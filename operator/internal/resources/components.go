package resources

import (
	"fmt"
	"strings"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// Component is one part of the platform, run as one Deployment of the
// kinship image with the component's subcommand. Its fields say what the
// subcommand needs (cmd/kinship/services.go is the source of truth; see
// docs/configuration.md).
type Component struct {
	// Name is the subcommand and the Deployment's name.
	Name string
	// Port serves the component's API (if any), /healthz and /readyz.
	Port int32
	// Service components have a ClusterIP Service: other components call
	// them, or the Ingress routes to them.
	Service bool
	// Database components get DATABASE_URL from the database Secret.
	Database bool
	// VerifiesTokens components check the bearer tokens presented to their
	// API: the AUTH_* settings and, when the workload issuer is the
	// cluster's API server, its CA (AUTH_WORKLOAD_CA_FILE).
	VerifiesTokens bool
	// ConnectServices are the fully qualified Connect services the Ingress
	// routes to this component.
	ConnectServices []string
	// PathPrefixes are further paths the Ingress routes to this component,
	// such as the events service's calendar feeds.
	PathPrefixes []string
	// PublicURLEnv, when set, names the variable that tells the component
	// where it is reached from outside, for links it hands out: the
	// Ingress endpoint. Without an Ingress the variable is left out, or,
	// when PublicURLRequired, is the component's in-cluster URL.
	PublicURLEnv      string
	PublicURLRequired bool
	// LinksTo names components whose public address this one puts in
	// links it hands out; each is KINSHIP_<NAME>_PUBLIC_URL, the Ingress
	// endpoint, and is left out without an Ingress.
	LinksTo []string
	// Token components present their own projected service-account token
	// to other services.
	Token bool
	// SMTP components send mail.
	SMTP bool
	// UnsubscribeKeys components read the unsubscribe key and the bounce
	// token from the communications Secret.
	UnsubscribeKeys bool
	// Temporal components talk to the Temporal frontend.
	Temporal bool
	// Calls names the components whose APIs this one calls; each is
	// KINSHIP_<NAME>_URL, the component's in-cluster URL.
	Calls []string
}

// Components lists every component, in a fixed order. Ports are the
// subcommands' defaults.
func Components() []Component {
	return []Component{
		{Name: "members", Port: 8081, Service: true, Database: true, VerifiesTokens: true, ConnectServices: []string{
			"kinship.members.v1.MembersService",
			"kinship.members.v1.AccessService",
			"kinship.members.v1.SegmentsService",
			"kinship.members.v1.EngagementService",
		}},
		{Name: "communications", Port: 8082, Service: true, Database: true, VerifiesTokens: true, Token: true, SMTP: true,
			UnsubscribeKeys: true, PublicURLEnv: "KINSHIP_PUBLIC_URL", PublicURLRequired: true, LinksTo: []string{"events"},
			Calls: []string{"members"}, ConnectServices: []string{
				"kinship.communications.v1.CommunicationsService",
				"kinship.communications.v1.AnnouncementsService",
				"kinship.communications.v1.TemplatesService",
			}, PathPrefixes: []string{"/unsubscribe", "/bounces"}},
		{Name: "worker", Port: 8083, Service: true, VerifiesTokens: true, Token: true, Temporal: true,
			Calls: []string{"members", "communications", "events", "partners"}, ConnectServices: []string{
				"kinship.journeys.v1.JourneysService",
			}},
		{Name: "events", Port: 8085, Service: true, Database: true, VerifiesTokens: true, Token: true,
			PublicURLEnv: "KINSHIP_EVENTS_PUBLIC_URL", Calls: []string{"members"}, ConnectServices: []string{
				"kinship.events.v1.EventsService",
				"kinship.events.v1.AttendanceService",
				"kinship.events.v1.CalendarService",
			}, PathPrefixes: []string{"/calendar"}},
		{Name: "partners", Port: 8086, Service: true, Database: true, VerifiesTokens: true, Token: true,
			Calls: []string{"members"}, ConnectServices: []string{
				"kinship.partners.v1.PartnersService",
				"kinship.partners.v1.ContactsService",
				"kinship.partners.v1.AgreementsService",
				"kinship.partners.v1.ContributionsService",
				"kinship.partners.v1.ReportsService",
			}},
	}
}

// Routed reports whether the Ingress routes any path to the component.
func (comp Component) Routed() bool {
	return len(comp.ConnectServices) > 0 || len(comp.PathPrefixes) > 0
}

// ComponentByName returns the named component.
func ComponentByName(name string) (Component, bool) {
	for _, comp := range Components() {
		if comp.Name == name {
			return comp, true
		}
	}
	return Component{}, false
}

// Spec returns c's settings for the component.
func (comp Component) Spec(c *kinshipv1alpha1.Community) kinshipv1alpha1.ComponentSpec {
	switch comp.Name {
	case "members":
		return c.Spec.Components.Members
	case "communications":
		return c.Spec.Components.Communications
	case "worker":
		return c.Spec.Components.Worker
	case "events":
		return c.Spec.Components.Events
	case "partners":
		return c.Spec.Components.Partners
	}
	return kinshipv1alpha1.ComponentSpec{}
}

// Replicas is the component's desired replica count: zero while c is
// suspended.
func (comp Component) Replicas(c *kinshipv1alpha1.Community) int32 {
	if c.Spec.Suspend {
		return 0
	}
	if r := comp.Spec(c).Replicas; r != nil {
		return *r
	}
	return DefaultReplicas
}

// URL is the component's base URL inside the cluster.
func (comp Component) URL(c *kinshipv1alpha1.Community) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", comp.Name, Namespace(c), comp.Port)
}

// URLEnv is the variable that gives other components comp's in-cluster
// URL, such as KINSHIP_MEMBERS_URL.
func (comp Component) URLEnv() string { return "KINSHIP_" + strings.ToUpper(comp.Name) + "_URL" }

// LinkEnv is the variable that gives other components comp's public
// address, for links they hand out, such as KINSHIP_EVENTS_PUBLIC_URL.
func (comp Component) LinkEnv() string {
	return "KINSHIP_" + strings.ToUpper(comp.Name) + "_PUBLIC_URL"
}

func mustComponent(name string) Component {
	comp, ok := ComponentByName(name)
	if !ok {
		panic("resources: unknown component " + name)
	}
	return comp
}
