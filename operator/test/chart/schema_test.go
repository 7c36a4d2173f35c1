package chart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// platformSet is what a community needs from the platform settings.
const platformSet = `
platform:
  kafka: {bootstrapServers: ["kafka.kafka:9092"]}
  temporal: {address: "temporal-frontend.temporal:7233"}
  database: {existingSecret: postgres-admin}
  smtp: {existingSecret: smtp}
  auth: {issuer: "https://id.example.org"}
`

func TestValuesSchemaRefusesBadValues(t *testing.T) {
	cases := []struct {
		name   string
		values string
		want   string // in helm's error
	}{
		{"replicas must be a number", `operator: {replicas: two}`, "/operator/replicas"},
		{"replicas cannot be negative", `operator: {replicas: -1}`, "/operator/replicas"},
		{"component replicas cannot be negative", `platform: {components: {members: {replicas: -1}}}`, "/platform/components/members/replicas"},
		{"a switch must be a boolean", `serviceMonitor: {enabled: "yes"}`, "/serviceMonitor/enabled"},
		{"unknown top-level key", `replicaCount: 2`, "replicaCount"},
		{"unknown key in operator", `operator: {image: {registry: docker.io}}`, "registry"},
		{"unknown key in a community", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., colour: green}`, "colour"},
		{"community name must be a DNS label", platformSet + `
communities:
  - {name: Climate_Action, displayName: Climate, purpose: Act.}`, "/communities/0/name"},
		{"community needs a purpose", platformSet + `
communities:
  - {name: climate, displayName: Climate}`, "purpose"},
		{"log level is one of four", `operator: {logLevel: verbose}`, "/operator/logLevel"},
		{"durations are Go durations", `operator: {retryBaseDelay: soon}`, "/operator/retryBaseDelay"},
		{"bootstrap servers need a port", `platform: {kafka: {bootstrapServers: [kafka.kafka]}}`, "/platform/kafka/bootstrapServers/0"},
		{"image tag must be a valid tag", `platform: {image: {tag: "v1 beta"}}`, "/platform/image/tag"},
		{"an unknown SASL mechanism", `platform: {kafka: {sasl: {mechanism: GSSAPI}}}`, "/platform/kafka/sasl/mechanism"},
		{"SASL without a user name", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., kafka: {sasl: {mechanism: SCRAM-SHA-512, existingSecret: kafka-user}}}`, "kafka.sasl.mechanism SCRAM-SHA-512 needs kafka.sasl.username"},
		{"SASL without the password's Secret", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., kafka: {sasl: {mechanism: PLAIN, username: climate}}}`, "needs kafka.sasl.existingSecret"},
		{"a TLS Secret while TLS is off", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., temporal: {tls: {existingSecret: temporal-ca}}}`, "communities[climate]: temporal.tls: existingSecret and serverName need enabled: true"},
		{"a TLS server name must be a host name", `platform: {kafka: {tls: {enabled: true, serverName: "kafka:9093"}}}`, "/platform/kafka/tls/serverName"},
		{"DKIM without a selector", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., smtp: {dkim: {existingSecret: dkim, domain: example.org}}}`,
			"communities[climate]: smtp.dkim: DKIM needs existingSecret, selector and domain together; existingSecret, domain set but selector missing"},
		{"a platform DKIM selector without its key", `platform: {smtp: {dkim: {selector: kinship}}}`,
			"platform.smtp.dkim: DKIM needs existingSecret, selector and domain together; selector set but existingSecret, domain missing"},
		{"a DKIM domain that is no domain", `platform: {smtp: {dkim: {domain: "example org"}}}`, "/platform/smtp/dkim/domain"},
		{"a webhook allow-list entry that is a URL", `platform: {communications: {outboundAllow: ["https://chat.internal/"]}}`, "/platform/communications/outboundAllow/0"},
		{"a report slot that is no weekday and time", `platform: {insights: {reportSchedule: "monday morning"}}`, "/platform/insights/reportSchedule"},
		{"an ambassador quota below one", `platform: {insights: {ambassadorQuotas: {hosted_event: 0}}}`, "/platform/insights/ambassadorQuotas/hosted_event"},
		{"a time zone that is no zone name", `platform: {insights: {timeZone: "Europe Berlin"}}`, "/platform/insights/timeZone"},
		{"the console switch is a boolean", `platform: {console: {enabled: "yes"}}`, "/platform/console/enabled"},
		{"a console address that is plain http", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., console: {publicURL: "http://climate.example.org"}}`, "/communities/0/console/publicURL"},
		{"a console address below the root", platformSet + `
communities:
  - {name: climate, displayName: Climate, purpose: Act., console: {publicURL: "https://climate.example.org/console"}}`, "/communities/0/console/publicURL"},
		{"a community needs the platform settings it does not override", `
communities:
  - {name: climate, displayName: Climate, purpose: Act.}`, "platform.kafka.bootstrapServers"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, "values-"+string(rune('a'+i))+".yaml")
			if err := os.WriteFile(file, []byte(c.values), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := helmTemplate(t, "--values", file)
			if err == nil {
				t.Fatalf("helm accepted\n%s\nand rendered %d bytes", c.values, len(out))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("helm refused, but its error does not name %q:\n%v", c.want, err)
			}
		})
	}
}
