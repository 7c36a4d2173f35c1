package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// validCommunity is accepted by the API server; each case below breaks one
// rule.
func validCommunity(name string) *kinshipv1alpha1.Community {
	return &kinshipv1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kinshipv1alpha1.CommunitySpec{
			DisplayName:    "Valid",
			Purpose:        "Be valid.",
			Image:          kinshipv1alpha1.ImageSpec{Repository: "ghcr.io/kinshiphq/kinship", Tag: "v1"},
			Kafka:          kinshipv1alpha1.KafkaSpec{BootstrapServers: []string{"kafka:9092"}},
			Temporal:       kinshipv1alpha1.TemporalSpec{Address: "temporal:7233"},
			Database:       kinshipv1alpha1.DatabaseSpec{AdminSecretRef: kinshipv1alpha1.SecretReference{Name: "pg"}},
			SMTP:           kinshipv1alpha1.SMTPSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "smtp"}},
			Auth:           kinshipv1alpha1.AuthSpec{Issuer: "https://id.example.org"},
			Communications: kinshipv1alpha1.CommunicationsSpec{PublicURL: "https://" + name + ".example.org"},
		},
	}
}

func TestTheAPIServerRejectsInvalidCommunities(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(c *kinshipv1alpha1.Community)
		want   string
	}{
		{"name with a double dash", func(c *kinshipv1alpha1.Community) { c.Name = "bad--name" }, "name must be at most 50 lower-case letters"},
		{"name too long", func(c *kinshipv1alpha1.Community) { c.Name = strings.Repeat("a", 51) }, "name must be at most 50"},
		{"no purpose", func(c *kinshipv1alpha1.Community) { c.Spec.Purpose = "" }, "spec.purpose"},
		{"no brokers", func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.BootstrapServers = nil }, "spec.kafka.bootstrapServers"},
		{"broker without port", func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.BootstrapServers = []string{"kafka"} }, "spec.kafka.bootstrapServers[0]"},
		{"kafka retention too short", func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.Retention = &metav1.Duration{Duration: time.Minute} }, "retention must be at least 1h"},
		{"temporal retention too short", func(c *kinshipv1alpha1.Community) {
			c.Spec.Temporal.NamespaceRetention = &metav1.Duration{Duration: time.Hour}
		}, "namespaceRetention must be at least 24h"},
		{"zero partitions", func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.Partitions = -1 }, "spec.kafka.partitions"},
		{"unknown deletion policy", func(c *kinshipv1alpha1.Community) { c.Spec.DeletionPolicy = "Orphan" }, "spec.deletionPolicy"},
		{"negative replicas", func(c *kinshipv1alpha1.Community) { c.Spec.Components.Members.Replicas = ptr.To[int32](-1) }, "spec.components.members.replicas"},
		{"goal without a positive target", func(c *kinshipv1alpha1.Community) {
			c.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "g", Metric: "members.active", Target: "0"}}
		}, "target must be greater than zero"},
		{"goal deadline not a date", func(c *kinshipv1alpha1.Community) {
			c.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "g", Metric: "m", Target: "1", Deadline: "soon"}}
		}, "spec.goals[0].deadline"},
		{"issuer not a URL", func(c *kinshipv1alpha1.Community) { c.Spec.Auth.Issuer = "id.example.org" }, "spec.auth.issuer"},
		{"bad pull policy", func(c *kinshipv1alpha1.Community) { c.Spec.Image.PullPolicy = "Sometimes" }, "spec.image.pullPolicy"},
		{"kafka TLS secret while TLS is off", func(c *kinshipv1alpha1.Community) {
			c.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{SecretRef: &kinshipv1alpha1.SecretReference{Name: "ca"}}
		}, "secretRef and serverName need enabled: true"},
		{"temporal TLS server name while TLS is off", func(c *kinshipv1alpha1.Community) {
			c.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{ServerName: "temporal.example.org"}
		}, "secretRef and serverName need enabled: true"},
		{"TLS server name not a host name", func(c *kinshipv1alpha1.Community) {
			c.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true, ServerName: "kafka:9093"}
		}, "spec.kafka.tls.serverName"},
		{"unknown SASL mechanism", func(c *kinshipv1alpha1.Community) {
			c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: "GSSAPI", Username: "u",
				PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "u"}}
		}, "spec.kafka.sasl.mechanism"},
		{"SASL without a user name", func(c *kinshipv1alpha1.Community) {
			c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA512,
				PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "u"}}
		}, "spec.kafka.sasl.username"},
		{"SASL without a password Secret", func(c *kinshipv1alpha1.Community) {
			c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: "u"}
		}, "spec.kafka.sasl.passwordSecretRef.name"},
		{"DKIM without a selector", func(c *kinshipv1alpha1.Community) {
			c.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim"}, Domain: "example.org"}
		}, "spec.smtp.dkim.selector"},
		{"DKIM without a domain", func(c *kinshipv1alpha1.Community) {
			c.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim"}, Selector: "kinship"}
		}, "spec.smtp.dkim.domain"},
		{"DKIM domain not a domain", func(c *kinshipv1alpha1.Community) {
			c.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim"}, Selector: "kinship", Domain: "localhost"}
		}, "spec.smtp.dkim.domain"},
		{"outbound allow-list entry that is a URL", func(c *kinshipv1alpha1.Community) {
			c.Spec.Communications.OutboundAllow = []string{"10.0.0.0/8", "https://chat.internal/"}
		}, "spec.communications.outboundAllow[1]"},
		{"report slot that is no weekday and time", func(c *kinshipv1alpha1.Community) { c.Spec.Insights.ReportSchedule = "monday 8am" },
			"spec.insights.reportSchedule"},
		{"time zone with a space", func(c *kinshipv1alpha1.Community) { c.Spec.Insights.TimeZone = "Europe Berlin" }, "spec.insights.timeZone"},
		{"ambassador quota of zero", func(c *kinshipv1alpha1.Community) {
			c.Spec.Insights.AmbassadorQuotas = map[string]int32{"hosted_event": 0}
		}, "each quota is an activity type"},
		{"ambassador quota of an activity with capitals", func(c *kinshipv1alpha1.Community) {
			c.Spec.Insights.AmbassadorQuotas = map[string]int32{"HostedEvent": 1}
		}, "each quota is an activity type"},
		{"console address in plain http", func(c *kinshipv1alpha1.Community) { c.Spec.Console.PublicURL = "http://climate.example.org" },
			"spec.console.publicURL"},
		{"console address below the root", func(c *kinshipv1alpha1.Community) { c.Spec.Console.PublicURL = "https://climate.example.org/console" },
			"spec.console.publicURL"},
		{"console client id with a space", func(c *kinshipv1alpha1.Community) { c.Spec.Console.ClientID = "kinship console" }, "spec.console.clientID"},
		{"negative console replicas", func(c *kinshipv1alpha1.Community) { c.Spec.Components.Console.Replicas = ptr.To[int32](-1) },
			"spec.components.console.replicas"},
		{"goal segment role that is none", func(c *kinshipv1alpha1.Community) {
			c.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "g", Metric: "members.active", Target: "1",
				Segment: &kinshipv1alpha1.GoalSegment{Roles: []string{"admin"}}}}
		}, "spec.goals[0].segment.roles[0]"},
		{"goal baseline not a date", func(c *kinshipv1alpha1.Community) {
			c.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "g", Metric: "members.active", Target: "1", BaselineDate: "last monday"}}
		}, "spec.goals[0].baselineDate"},
		{"onboarding definition that is no object", func(c *kinshipv1alpha1.Community) {
			c.Spec.Journeys.Onboarding = &runtime.RawExtension{Raw: []byte(`[{"id": "welcome", "kind": "send"}]`)}
		}, "spec.journeys.onboarding"},
		{"empty onboarding definition", func(c *kinshipv1alpha1.Community) {
			c.Spec.Journeys.Onboarding = &runtime.RawExtension{Raw: []byte(`{}`)}
		}, "spec.journeys.onboarding"},
		{"onboarding definition with too many settings", func(c *kinshipv1alpha1.Community) {
			c.Spec.Journeys.Onboarding = &runtime.RawExtension{Raw: manySettings(11)}
		}, "spec.journeys.onboarding"},
		{"ambassador programme that is no object", func(c *kinshipv1alpha1.Community) {
			c.Spec.Journeys.Ambassador = &runtime.RawExtension{Raw: []byte(`"gold"`)}
		}, "spec.journeys.ambassador"},
		{"ambassador programme with too many settings", func(c *kinshipv1alpha1.Community) {
			c.Spec.Journeys.Ambassador = &runtime.RawExtension{Raw: manySettings(41)}
		}, "spec.journeys.ambassador"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validCommunity("invalid")
			tc.change(c)
			err := env.k8s.Create(ctx, c)
			if err == nil {
				_ = env.k8s.Delete(ctx, c)
				t.Fatalf("accepted; want an error mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// manySettings is a JSON object of n settings.
func manySettings(n int) []byte {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"setting%d": %d`, i, i)
	}
	return []byte("{" + strings.Join(parts, ", ") + "}")
}

// The API server keeps the journey definitions of spec.journeys as they
// were written, every nested setting included: nothing is pruned on the
// way to the operator.
func TestJourneyDefinitionsAreKeptWhole(t *testing.T) {
	ctx := context.Background()
	c := validCommunity("keptwhole")
	onboarding := `{"locales": ["en", "de"], "start": "hello", "steps": [{"id": "hello", "kind": "send", "template": "welcome", "next": "wait"},` +
		`{"id": "wait", "kind": "wait", "for": "48h", "if": {"attribute": "country", "in": ["DE"]}}]}`
	ambassador := `{"reviewers": ["m-1"], "quotas": [{"activity": "hosted_event", "count": 2}], "criteria": {"min_level": "Core"}}`
	c.Spec.Journeys = kinshipv1alpha1.JourneysSpec{
		Onboarding: &runtime.RawExtension{Raw: []byte(onboarding)},
		Ambassador: &runtime.RawExtension{Raw: []byte(ambassador)},
	}
	if err := env.k8s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, c) })
	var got kinshipv1alpha1.Community
	if err := env.k8s.Get(ctx, client.ObjectKeyFromObject(c), &got); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want []byte
	}{
		{"onboarding", got.Spec.Journeys.Onboarding.Raw, []byte(onboarding)},
		{"ambassador", got.Spec.Journeys.Ambassador.Raw, []byte(ambassador)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !sameJSON(string(tc.got), string(tc.want)) {
				t.Errorf("the API server keeps %s, want %s", tc.got, tc.want)
			}
		})
	}
}

// A Secret reference resolves only in the operator's namespace (namespace
// left out) or in the Community's own kinship-<name>: the API server
// refuses kube-system, another Community's namespace or any other, for
// every reference, naming the field and what would be allowed.
func TestSecretReferencesOutsideTheTwoNamespacesAreRefused(t *testing.T) {
	ctx := context.Background()
	refs := map[string]func(c *kinshipv1alpha1.Community, ns string){
		"spec.database.adminSecretRef": func(c *kinshipv1alpha1.Community, ns string) {
			c.Spec.Database.AdminSecretRef.Namespace = ns
		},
		"spec.smtp.secretRef": func(c *kinshipv1alpha1.Community, ns string) { c.Spec.SMTP.SecretRef.Namespace = ns },
		"spec.smtp.dkim.secretRef": func(c *kinshipv1alpha1.Community, ns string) {
			c.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Namespace: ns, Name: "dkim"}, Selector: "kinship", Domain: "example.org"}
		},
		"spec.kafka.tls.secretRef": func(c *kinshipv1alpha1.Community, ns string) {
			c.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true, SecretRef: &kinshipv1alpha1.SecretReference{Namespace: ns, Name: "ca"}}
		},
		"spec.kafka.sasl.passwordSecretRef": func(c *kinshipv1alpha1.Community, ns string) {
			c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: "u",
				PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Namespace: ns, Name: "u"}}
		},
		"spec.temporal.tls.secretRef": func(c *kinshipv1alpha1.Community, ns string) {
			c.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true, SecretRef: &kinshipv1alpha1.SecretReference{Namespace: ns, Name: "ca"}}
		},
		"spec.console.clientSecret.secretRef": func(c *kinshipv1alpha1.Community, ns string) {
			c.Spec.Console.ClientSecret = &kinshipv1alpha1.ConsoleClientSecret{SecretRef: kinshipv1alpha1.SecretReference{Namespace: ns, Name: "oidc"}}
		},
	}
	for field, set := range refs {
		for _, ns := range []string{"kube-system", "kinship-system", "kinship-other-community", "default"} {
			t.Run(field+"/"+ns, func(t *testing.T) {
				c := validCommunity("refs")
				set(c, ns)
				err := env.k8s.Create(ctx, c, client.DryRunAll)
				if err == nil {
					t.Fatalf("a reference to namespace %s was accepted", ns)
				}
				for _, want := range []string{field + ".namespace", "must be left out (a Secret in the operator namespace", "or be kinship-<name>, the Community namespace"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			})
		}
		for _, ns := range []string{"", "kinship-refs"} {
			t.Run(field+"/allowed "+ns, func(t *testing.T) {
				c := validCommunity("refs")
				set(c, ns)
				if err := env.k8s.Create(ctx, c, client.DryRunAll); err != nil {
					t.Errorf("a reference to %q (the operator's or the Community's namespace) was refused: %v", ns, err)
				}
			})
		}
	}
}

func TestTransitionRulesGuardWhatCannotChange(t *testing.T) {
	ctx := context.Background()
	c := validCommunity("transitions")
	c.Spec.Kafka.Partitions = 6
	// The operator reconciles it meanwhile; the addresses lead nowhere
	// and that does not matter here.
	if err := env.k8s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, c) })
	for _, tc := range []struct {
		name   string
		change func(c *kinshipv1alpha1.Community)
		want   string
	}{
		{"fewer partitions", func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.Partitions = 3 }, "partitions cannot be decreased"},
		{"another replication factor", func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.ReplicationFactor = 1 }, "replicationFactor is immutable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for {
				var live kinshipv1alpha1.Community
				if err := env.k8s.Get(ctx, client.ObjectKeyFromObject(c), &live); err != nil {
					t.Fatal(err)
				}
				tc.change(&live)
				err := env.k8s.Update(ctx, &live)
				if apierrors.IsConflict(err) {
					continue // the operator wrote meanwhile
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("update: %v; want %q", err, tc.want)
				}
				return
			}
		})
	}
	eventually(t, 10*time.Second, func() error {
		var live kinshipv1alpha1.Community
		if err := env.k8s.Get(ctx, client.ObjectKeyFromObject(c), &live); err != nil {
			return err
		}
		live.Spec.Kafka.Partitions = 12
		if err := env.k8s.Update(ctx, &live); err != nil && !apierrors.IsConflict(err) {
			t.Fatalf("adding partitions must be allowed: %v", err)
		} else if err != nil {
			return err
		}
		return nil
	})
}

func TestTheAPIServerFillsInDefaults(t *testing.T) {
	ctx := context.Background()
	c := validCommunity("defaults")
	if err := env.k8s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, c) })
	s := c.Spec
	if s.Kafka.TLS != nil || s.Kafka.SASL != nil || s.Temporal.TLS != nil {
		t.Errorf("TLS and SASL must stay off unless asked for: %+v %+v %+v", s.Kafka.TLS, s.Kafka.SASL, s.Temporal.TLS)
	}
	if s.DeletionPolicy != kinshipv1alpha1.DeletionPolicyRetain || s.Image.PullPolicy != corev1.PullIfNotPresent ||
		s.Kafka.Partitions != 4 || s.Kafka.ReplicationFactor != 3 || s.Kafka.Retention == nil || s.Kafka.Retention.Duration != 168*time.Hour ||
		s.Temporal.NamespaceRetention == nil || s.Temporal.NamespaceRetention.Duration != 168*time.Hour || s.Auth.Audience != "kinship" ||
		s.Auth.WorkloadIssuer != "https://kubernetes.default.svc.cluster.local" || s.Auth.WorkloadAudience != "kinship-workload" {
		t.Errorf("defaults not applied: %+v", s)
	}
	for name, comp := range map[string]kinshipv1alpha1.ComponentSpec{
		"members": s.Components.Members, "events": s.Components.Events, "communications": s.Components.Communications,
		"partners": s.Components.Partners, "worker": s.Components.Worker, "insights": s.Components.Insights,
	} {
		if comp.Replicas == nil || *comp.Replicas != 2 || comp.Resources.Requests.Memory().String() != "128Mi" || comp.Resources.Limits.Memory().String() != "512Mi" {
			t.Errorf("%s defaults: %+v", name, comp)
		}
	}
	// The console: one replica (sessions live in a replica's memory), on,
	// a public client with the default id.
	if con := s.Components.Console; con.Replicas == nil || *con.Replicas != 1 || con.Resources.Requests.Memory().String() != "128Mi" {
		t.Errorf("console defaults: %+v", con)
	}
	if s.Console.Enabled == nil || !*s.Console.Enabled || s.Console.ClientID != "kinship-console" || s.Console.ClientSecret != nil {
		t.Errorf("console settings: %+v", s.Console)
	}
	if s.Insights.TimeZone != "" || s.Insights.ReportSchedule != "" || len(s.Insights.AmbassadorQuotas) != 0 {
		t.Errorf("insights settings must stay unset (the service's defaults): %+v", s.Insights)
	}
	sec := validCommunity("console-key-default")
	sec.Spec.Console.ClientSecret = &kinshipv1alpha1.ConsoleClientSecret{SecretRef: kinshipv1alpha1.SecretReference{Name: "oidc"}}
	if err := env.k8s.Create(ctx, sec, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got := sec.Spec.Console.ClientSecret.Key; got != "client-secret" {
		t.Errorf("console.clientSecret.key defaulted to %q, want client-secret", got)
	}
}

func TestTheSASLPasswordKeyDefaultsToPassword(t *testing.T) {
	c := validCommunity("sasl-defaults")
	c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA256, Username: "kinship",
		PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "kinship"}}
	c.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true}
	if err := env.k8s.Create(context.Background(), c, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got := c.Spec.Kafka.SASL.PasswordSecretRef.Key; got != "password" {
		t.Errorf("passwordSecretRef.key defaulted to %q, want password (a Strimzi KafkaUser Secret's key)", got)
	}
}

// deleteAndWait deletes c and waits until the operator has released it.
func deleteAndWait(t *testing.T, c *kinshipv1alpha1.Community) {
	t.Helper()
	ctx := context.Background()
	if err := env.k8s.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		var live kinshipv1alpha1.Community
		if err := env.k8s.Get(ctx, client.ObjectKeyFromObject(c), &live); client.IgnoreNotFound(err) != nil || err == nil {
			return fmt.Errorf("community %s still there (%v)", c.Name, err)
		}
		return nil
	})
}

// TestTheSampleIsValid keeps config/samples in step with the CRD.
func TestTheSampleIsValid(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "kinship_v1alpha1_community.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c kinshipv1alpha1.Community
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("the sample does not match the Go types: %v", err)
	}
	if err := env.k8s.Create(context.Background(), &c, client.DryRunAll); err != nil {
		t.Fatalf("the API server rejects the sample: %v", err)
	}
}
