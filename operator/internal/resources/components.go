package resources

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

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
	// Kafka components produce or consume the community's topics: the
	// Kafka TLS and SASL settings and files.
	Kafka bool
	// VerifiesTokens components check the bearer tokens presented to their
	// API: the AUTH_* settings and, when the workload issuer is the
	// cluster's API server, its CA (AUTH_WORKLOAD_CA_FILE).
	VerifiesTokens bool
	// TrustsOperator components also accept the operator's own workload
	// token (its service account's subject joins AUTH_WORKLOAD_SUBJECTS),
	// and the operator's namespace may reach their port: the operator
	// calls them (the insights service's SyncGoals, the worker's
	// SaveDefinition).
	TrustsOperator bool
	// SignsIn components sign people in at spec.auth.issuer with OpenID
	// Connect and keep sessions (the console): the issuer and audience,
	// their client, their public address, the community, and an emptyDir
	// for the sessions' file. They get no workload settings, no database
	// and no Kafka, and a NetworkPolicy of their own (ConsolePolicyName).
	SignsIn bool
	// ConnectServices are the fully qualified Connect services the Ingress
	// routes to this component.
	ConnectServices []string
	// PathPrefixes are further paths the Ingress routes to this component,
	// such as the events service's calendar feeds.
	PathPrefixes []string
	// PublicURLEnv, when set, names the variable that tells the component
	// where it is reached from outside, for links it hands out: the
	// Ingress endpoint. Without an Ingress the variable is left out.
	// PublicURLRequired components (links in mail) need an https address,
	// PublicURL's; while c has none, they get their in-cluster URL and the
	// controller reports the Community not Ready.
	PublicURLEnv      string
	PublicURLRequired bool
	// LinksTo names components whose public address this one puts in
	// links it hands out; each is KINSHIP_<NAME>_PUBLIC_URL, the Ingress
	// endpoint, and is left out without an Ingress.
	LinksTo []string
	// Token components present their own projected service-account token
	// to other services.
	Token bool
	// SMTP components send mail, DKIM-signed when the spec names a key.
	SMTP bool
	// Webhooks components post to addresses organisers give them: they
	// reach public addresses on 443 (WebhookPolicyName) and get the
	// spec's allow-list as KINSHIP_OUTBOUND_ALLOW.
	Webhooks bool
	// UnsubscribeKeys components read the unsubscribe key and the bounce
	// token from the communications Secret.
	UnsubscribeKeys bool
	// Temporal components talk to the Temporal frontend.
	Temporal bool
	// Calls names the components whose APIs this one calls; each is
	// KINSHIP_<API>_URL, the component's in-cluster URL.
	Calls []string
	// API names the API the component serves where it differs from Name,
	// in the variables that give other components its URL: the worker
	// serves the journeys API (KINSHIP_JOURNEYS_URL).
	API string
	// Optional components can be turned off in the Community's spec.
	Optional bool
	// Settings are further variables from the Community's spec.
	Settings func(c *kinshipv1alpha1.Community) []corev1.EnvVar
}

// Components lists every component, in a fixed order. Ports are the
// subcommands' defaults.
func Components() []Component {
	return []Component{
		{Name: "members", Port: 8081, Service: true, Database: true, Kafka: true, VerifiesTokens: true, ConnectServices: []string{
			"kinship.members.v1.MembersService",
			"kinship.members.v1.AccessService",
			"kinship.members.v1.SegmentsService",
			"kinship.members.v1.EngagementService",
		}},
		{Name: "communications", Port: 8082, Service: true, Database: true, Kafka: true, VerifiesTokens: true, Token: true, SMTP: true, Webhooks: true,
			UnsubscribeKeys: true, PublicURLEnv: "KINSHIP_PUBLIC_URL", PublicURLRequired: true, LinksTo: []string{"events"},
			Calls: []string{"members"}, ConnectServices: []string{
				"kinship.communications.v1.CommunicationsService",
				"kinship.communications.v1.AnnouncementsService",
				"kinship.communications.v1.TemplatesService",
			}, PathPrefixes: []string{"/unsubscribe", "/confirm", "/bounces"}},
		// The worker keeps journey definitions, ambassador programmes and
		// its audit log in a database of its own tables, and reads the
		// insights service for subject-access exports. The operator
		// publishes the definitions spec.journeys names.
		{Name: "worker", API: "journeys", Port: 8083, Service: true, Database: true, Kafka: true, VerifiesTokens: true, Token: true, Temporal: true, TrustsOperator: true,
			Calls: []string{"members", "communications", "events", "partners", "insights"}, ConnectServices: []string{
				"kinship.journeys.v1.JourneysService",
			}},
		{Name: "events", Port: 8085, Service: true, Database: true, Kafka: true, VerifiesTokens: true, Token: true,
			PublicURLEnv: "KINSHIP_EVENTS_PUBLIC_URL", Calls: []string{"members", "partners"}, ConnectServices: []string{
				"kinship.events.v1.EventsService",
				"kinship.events.v1.AttendanceService",
				"kinship.events.v1.CalendarService",
			}, PathPrefixes: []string{"/calendar"}},
		{Name: "partners", Port: 8086, Service: true, Database: true, Kafka: true, VerifiesTokens: true, Token: true,
			Calls: []string{"members", "events"}, ConnectServices: []string{
				"kinship.partners.v1.PartnersService",
				"kinship.partners.v1.ContactsService",
				"kinship.partners.v1.AgreementsService",
				"kinship.partners.v1.ContributionsService",
				"kinship.partners.v1.ReportsService",
			}},
		// The read side: consumes the four domain topics, reads the
		// services' histories for a rebuild, sends the weekly report
		// through the communications service, reads the ambassador
		// nominations from the worker's journeys API, and keeps the goals
		// the operator syncs.
		{Name: "insights", Port: 8087, Service: true, Database: true, Kafka: true, VerifiesTokens: true, Token: true, TrustsOperator: true,
			Calls: []string{"members", "events", "communications", "partners", "worker"}, ConnectServices: []string{
				"kinship.insights.v1.InsightsService",
				"kinship.insights.v1.GoalsService",
			}, Settings: insightsSettings},
		// The web console: calls every API with the signed-in person's
		// own token, and has no credential of its own.
		{Name: "console", Port: 8080, Service: true, SignsIn: true, Optional: true,
			Calls: []string{"members", "events", "communications", "partners", "worker", "insights"}},
	}
}

// insightsSettings are the insights service's settings the spec names;
// unset ones keep the service's defaults.
func insightsSettings(c *kinshipv1alpha1.Community) []corev1.EnvVar {
	s := c.Spec.Insights
	var env []corev1.EnvVar
	if s.TimeZone != "" {
		env = append(env, corev1.EnvVar{Name: "KINSHIP_TIME_ZONE", Value: s.TimeZone})
	}
	if s.ReportSchedule != "" {
		env = append(env, corev1.EnvVar{Name: "KINSHIP_REPORT_SCHEDULE", Value: s.ReportSchedule})
	}
	if len(s.AmbassadorQuotas) > 0 {
		env = append(env, corev1.EnvVar{Name: "KINSHIP_AMBASSADOR_QUOTAS", Value: AmbassadorQuotas(s.AmbassadorQuotas)})
	}
	return env
}

// AmbassadorQuotas writes quotas as the insights service reads them:
// hosted_event:1,referred_member:1, by activity type.
func AmbassadorQuotas(quotas map[string]int32) string {
	types := make([]string, 0, len(quotas))
	for t := range quotas {
		types = append(types, t)
	}
	sort.Strings(types)
	items := make([]string, 0, len(types))
	for _, t := range types {
		items = append(items, t+":"+strconv.Itoa(int(quotas[t])))
	}
	return strings.Join(items, ",")
}

// Enabled reports whether c runs the component: every component but an
// optional one c turned off.
func (comp Component) Enabled(c *kinshipv1alpha1.Community) bool {
	if !comp.Optional {
		return true
	}
	switch comp.Name {
	case "console":
		return c.Spec.Console.IsEnabled()
	}
	return true
}

// EnabledComponents lists the components c runs, in Components' order.
func EnabledComponents(c *kinshipv1alpha1.Community) []Component {
	var out []Component
	for _, comp := range Components() {
		if comp.Enabled(c) {
			out = append(out, comp)
		}
	}
	return out
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
	case "insights":
		return c.Spec.Components.Insights
	case "console":
		return c.Spec.Components.Console.ComponentSpec()
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
	if comp.SignsIn {
		return DefaultConsoleReplicas
	}
	return DefaultReplicas
}

// URL is the component's base URL inside the cluster.
func (comp Component) URL(c *kinshipv1alpha1.Community) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", comp.Name, Namespace(c), comp.Port)
}

// URLEnv is the variable that gives other components comp's in-cluster
// URL, such as KINSHIP_MEMBERS_URL, or KINSHIP_JOURNEYS_URL for the
// worker, which serves the journeys API.
func (comp Component) URLEnv() string {
	name := comp.Name
	if comp.API != "" {
		name = comp.API
	}
	return "KINSHIP_" + strings.ToUpper(name) + "_URL"
}

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
