package resources

import (
	"fmt"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// Component is one part of the platform, run as one Deployment of the
// kinship image with the component's subcommand.
type Component struct {
	// Name is the subcommand and the Deployment's name.
	Name string
	// Port serves the component's API (if any), /healthz and /readyz.
	Port int32
	// API components have a Service, a database and verify tokens.
	API bool
	// ConnectServices are the fully qualified Connect services the Ingress
	// routes to this component.
	ConnectServices []string
	// PathPrefixes are further paths the Ingress routes to this component,
	// such as the events service's calendar feeds.
	PathPrefixes []string
	// PublicURL components are told the address the Ingress gives them
	// (KINSHIP_EVENTS_PUBLIC_URL), for links they hand out.
	PublicURL bool
	// Token components present their own projected service-account token
	// to other services.
	Token bool
	// SMTP components send mail.
	SMTP bool
	// Temporal components talk to the Temporal frontend.
	Temporal bool
	// CallsMembers and CallsCommunications name the APIs the component calls.
	CallsMembers        bool
	CallsCommunications bool
}

// Components lists every component, in a fixed order. Ports are the
// subcommands' defaults.
func Components() []Component {
	return []Component{
		{Name: "members", Port: 8081, API: true, ConnectServices: []string{
			"kinship.members.v1.MembersService",
			"kinship.members.v1.AccessService",
			"kinship.members.v1.SegmentsService",
			"kinship.members.v1.EngagementService",
		}},
		{Name: "communications", Port: 8082, API: true, Token: true, SMTP: true, CallsMembers: true, ConnectServices: []string{
			"kinship.communications.v1.CommunicationsService",
			"kinship.communications.v1.AnnouncementsService",
			"kinship.communications.v1.TemplatesService",
		}},
		{Name: "worker", Port: 8083, Token: true, Temporal: true, CallsMembers: true, CallsCommunications: true},
		{Name: "events", Port: 8085, API: true, Token: true, CallsMembers: true, PublicURL: true, ConnectServices: []string{
			"kinship.events.v1.EventsService",
			"kinship.events.v1.AttendanceService",
			"kinship.events.v1.CalendarService",
		}, PathPrefixes: []string{"/calendar"}},
		{Name: "partners", Port: 8086, API: true, Token: true, CallsMembers: true, ConnectServices: []string{
			"kinship.partners.v1.PartnersService",
			"kinship.partners.v1.ContactsService",
			"kinship.partners.v1.AgreementsService",
			"kinship.partners.v1.ContributionsService",
			"kinship.partners.v1.ReportsService",
		}},
	}
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

func mustComponent(name string) Component {
	comp, ok := ComponentByName(name)
	if !ok {
		panic("resources: unknown component " + name)
	}
	return comp
}
