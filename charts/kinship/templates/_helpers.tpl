{{/* Names, labels and the pieces every template shares. */}}

{{- define "kinship.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name: "<release>-kinship", or the release name when it already holds the chart's name. */}}
{{- define "kinship.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's objects: Deployment, Service, ServiceAccount, RBAC, NetworkPolicy. */}}
{{- define "kinship.operatorName" -}}
{{- printf "%s-operator" (include "kinship.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/* The ClusterRole the operator binds to itself in each instance namespace. */}}
{{- define "kinship.instanceRoleName" -}}
{{- printf "%s-instance" (include "kinship.operatorName" .) }}
{{- end }}

{{- define "kinship.serviceAccountName" -}}
{{- default (include "kinship.operatorName" .) .Values.operator.serviceAccount.name }}
{{- end }}

{{- define "kinship.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "kinship.labels" -}}
helm.sh/chart: {{ include "kinship.chart" . }}
app.kubernetes.io/name: {{ include "kinship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kinship
{{- end }}

{{/* Selector labels of the operator's pods. */}}
{{- define "kinship.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kinship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kinship.operatorLabels" -}}
{{ include "kinship.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kinship.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) }}
{{- end }}

{{/* The ports the operator and the health checks listen on (the operator's defaults). */}}
{{- define "kinship.metricsPort" -}}8080{{- end }}
{{- define "kinship.healthPort" -}}8081{{- end }}
{{/* The ports of each instance's insights service and worker, which the operator calls (the operator's resources.Components). */}}
{{- define "kinship.insightsPort" -}}8087{{- end }}
{{- define "kinship.workerPort" -}}8083{{- end }}

{{/* Pod- and container-level security context: Pod Security "restricted". */}}
{{- define "kinship.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "kinship.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The spec of one Community: the platform settings with the community's own
overrides on top. Called with (list $ $community).
*/}}
{{- define "kinship.communitySpec" -}}
{{- $root := index . 0 }}
{{- $c := index . 1 }}
{{- $p := $root.Values.platform }}
{{- $image := mergeOverwrite (dict "repository" $p.image.repository "tag" (default $root.Chart.AppVersion $p.image.tag) "pullPolicy" $p.image.pullPolicy) (deepCopy (default (dict) $c.image)) }}
{{- $ck := default (dict) $c.kafka }}
{{- $ct := default (dict) $c.temporal }}
{{- $kafka := mergeOverwrite (dict "bootstrapServers" $p.kafka.bootstrapServers "partitions" $p.kafka.partitions "replicationFactor" $p.kafka.replicationFactor "retention" $p.kafka.retention) (deepCopy (omit $ck "tls" "sasl")) }}
{{- /* A community's tls or sasl replaces the platform's whole: merging
  would keep the platform's enabled: true under a community's false. */}}
{{- $kafkaTLS := default (dict) (ternary $ck.tls $p.kafka.tls (hasKey $ck "tls")) }}
{{- $kafkaSASL := default (dict) (ternary $ck.sasl $p.kafka.sasl (hasKey $ck "sasl")) }}
{{- $temporal := mergeOverwrite (dict "address" $p.temporal.address "namespaceRetention" $p.temporal.namespaceRetention) (deepCopy (omit $ct "tls" "webUIURL")) }}
{{- /* A community's webUIURL replaces the platform's, "" included (a
  community on another Temporal); no address is left out, the CRD
  refusing an empty one. */}}
{{- with ternary $ct.webUIURL $p.temporal.webUIURL (hasKey $ct "webUIURL") }}{{ $_ := set $temporal "webUIURL" . }}{{ end }}
{{- $temporalTLS := default (dict) (ternary $ct.tls $p.temporal.tls (hasKey $ct "tls")) }}
{{- $databaseSecret := (default (dict) $c.database).existingSecret | default $p.database.existingSecret }}
{{- $cs := default (dict) $c.smtp }}
{{- $smtpSecret := $cs.existingSecret | default $p.smtp.existingSecret }}
{{- /* Like tls: a community's dkim replaces the platform's whole. */}}
{{- $dkim := default (dict) (ternary $cs.dkim $p.smtp.dkim (hasKey $cs "dkim")) }}
{{- $cc := default (dict) $c.communications }}
{{- $outboundAllow := default (list) (ternary $cc.outboundAllow (default (dict) $p.communications).outboundAllow (hasKey $cc "outboundAllow")) }}
{{- /* insights: each setting the community gives replaces the platform's
  (ambassadorQuotas whole, so {} goes back to the service's defaults). */}}
{{- $pi := default (dict) $p.insights }}
{{- $ci := default (dict) $c.insights }}
{{- $insights := dict }}
{{- range $k := list "timeZone" "reportSchedule" "ambassadorQuotas" }}
{{- $v := ternary (index $ci $k) (index $pi $k) (hasKey $ci $k) }}
{{- if $v }}{{ $_ := set $insights $k $v }}{{ end }}
{{- end }}
{{- /* console: likewise key by key, so that a community's enabled: false
  or existingSecret: "" wins over the platform's. */}}
{{- $pcon := default (dict) $p.console }}
{{- $ccon := default (dict) $c.console }}
{{- $console := dict }}
{{- range $k := list "enabled" "clientID" "existingSecret" "secretKey" "publicURL" }}
{{- if hasKey $ccon $k }}{{ $_ := set $console $k (index $ccon $k) }}{{ else if hasKey $pcon $k }}{{ $_ := set $console $k (index $pcon $k) }}{{ end }}
{{- end }}
{{- $auth := dict }}
{{- range $k, $v := mergeOverwrite (deepCopy $p.auth) (deepCopy (default (dict) $c.auth)) }}
{{- if $v }}{{ $_ := set $auth $k $v }}{{ end }}
{{- end }}
{{- $otel := (default (dict) $c.openTelemetry).endpoint | default $p.openTelemetry.endpoint }}
{{- $components := mergeOverwrite (deepCopy $p.components) (deepCopy (default (dict) $c.components)) }}
{{- $where := printf "communities[%s]" $c.name }}
{{- if not $kafka.bootstrapServers }}{{ fail (printf "%s: set platform.kafka.bootstrapServers (or the community's kafka.bootstrapServers)" $where) }}{{ end }}
{{- if not $temporal.address }}{{ fail (printf "%s: set platform.temporal.address (or the community's temporal.address)" $where) }}{{ end }}
{{- if not $databaseSecret }}{{ fail (printf "%s: set platform.database.existingSecret (or the community's database.existingSecret)" $where) }}{{ end }}
{{- if not $smtpSecret }}{{ fail (printf "%s: set platform.smtp.existingSecret (or the community's smtp.existingSecret)" $where) }}{{ end }}
{{- if not $auth.issuer }}{{ fail (printf "%s: set platform.auth.issuer (or the community's auth.issuer)" $where) }}{{ end }}
displayName: {{ $c.displayName | quote }}
purpose: {{ $c.purpose | quote }}
{{- with $c.goals }}
goals:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.journeys }}
journeys:
  {{- toYaml . | nindent 2 }}
{{- end }}
image:
  {{- toYaml $image | nindent 2 }}
{{- with $components }}
components:
  {{- toYaml . | nindent 2 }}
{{- end }}
kafka:
  {{- toYaml $kafka | nindent 2 }}
  {{- with include "kinship.tlsSpec" (list $root (printf "%s: kafka.tls" $where) $kafkaTLS) | trim }}{{ . | nindent 2 }}{{ end }}
  {{- with $kafkaSASL.mechanism }}
  {{- if not $kafkaSASL.username }}{{ fail (printf "%s: kafka.sasl.mechanism %s needs kafka.sasl.username" $where .) }}{{ end }}
  {{- if not $kafkaSASL.existingSecret }}{{ fail (printf "%s: kafka.sasl.mechanism %s needs kafka.sasl.existingSecret, the Secret holding the password" $where .) }}{{ end }}
  sasl:
    mechanism: {{ . }}
    username: {{ $kafkaSASL.username | quote }}
    passwordSecretRef:
      name: {{ $kafkaSASL.existingSecret }}
      key: {{ $kafkaSASL.passwordKey | default "password" | quote }}
  {{- else }}
  {{- if or $kafkaSASL.username $kafkaSASL.existingSecret }}{{ fail (printf "%s: kafka.sasl.username and kafka.sasl.existingSecret need kafka.sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)" $where) }}{{ end }}
  {{- end }}
temporal:
  {{- toYaml $temporal | nindent 2 }}
  {{- with include "kinship.tlsSpec" (list $root (printf "%s: temporal.tls" $where) $temporalTLS) | trim }}{{ . | nindent 2 }}{{ end }}
database:
  adminSecretRef:
    name: {{ $databaseSecret }}
smtp:
  secretRef:
    name: {{ $smtpSecret }}
  {{- with include "kinship.dkimSpec" (list (printf "%s: smtp.dkim" $where) $dkim) | trim }}{{ . | nindent 2 }}{{ end }}
{{- if or $outboundAllow $cc.publicURL }}
communications:
  {{- with $cc.publicURL }}
  publicURL: {{ . | quote }}
  {{- end }}
  {{- with $outboundAllow }}
  outboundAllow:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with $insights }}
insights:
  {{- toYaml . | nindent 2 }}
{{- end }}
console:
  enabled: {{ ternary $console.enabled true (hasKey $console "enabled") }}
  {{- with $console.clientID }}
  clientID: {{ . | quote }}
  {{- end }}
  {{- with $console.publicURL }}
  publicURL: {{ . | quote }}
  {{- end }}
  {{- with $console.existingSecret }}
  clientSecret:
    secretRef:
      name: {{ . }}
    key: {{ $console.secretKey | default "client-secret" | quote }}
  {{- end }}
auth:
  {{- toYaml $auth | nindent 2 }}
{{- with $otel }}
openTelemetry:
  endpoint: {{ . | quote }}
{{- end }}
{{- with $c.ingress }}
ingress:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.deletionPolicy }}
deletionPolicy: {{ . }}
{{- end }}
{{- if $c.suspend }}
suspend: true
{{- end }}
{{- end }}

{{/*
The tls field of a Community's kafka or temporal spec, from the chart's
tls values (enabled, existingSecret, serverName); nothing when TLS is off.
Arguments: the root context, where the values are (for errors), the values.
*/}}
{{- define "kinship.tlsSpec" -}}
{{- $root := index . 0 }}
{{- $where := index . 1 }}
{{- $tls := index . 2 }}
{{- if $tls.enabled }}
tls:
  enabled: true
  {{- with $tls.existingSecret }}
  secretRef:
    name: {{ . }}
  {{- end }}
  {{- with $tls.serverName }}
  serverName: {{ . | quote }}
  {{- end }}
{{- else if or $tls.existingSecret $tls.serverName }}
{{- fail (printf "%s: existingSecret and serverName need enabled: true" $where) }}
{{- end }}
{{- end }}

{{/*
The dkim field of a Community's smtp spec, from the chart's dkim values
(existingSecret, key, selector, domain); nothing when existingSecret,
selector and domain are all empty, a failure when only some are set. The
Secret is in the release namespace, where a reference without a namespace
resolves. Arguments: where the values are (for errors), the values.
*/}}
{{- define "kinship.dkimSpec" -}}
{{- $where := index . 0 }}
{{- $d := index . 1 }}
{{- $set := list }}{{- $missing := list }}
{{- range $k := list "existingSecret" "selector" "domain" }}
{{- if index $d $k }}{{ $set = append $set $k }}{{ else }}{{ $missing = append $missing $k }}{{ end }}
{{- end }}
{{- if and $set $missing }}
{{- fail (printf "%s: DKIM needs existingSecret, selector and domain together; %s set but %s missing" $where (join ", " $set) (join ", " $missing)) }}
{{- end }}
{{- if not $missing }}
dkim:
  secretRef:
    name: {{ $d.existingSecret }}
  key: {{ $d.key | default "private.key" | quote }}
  selector: {{ $d.selector | quote }}
  domain: {{ $d.domain | quote }}
{{- end }}
{{- end }}

{{/*
The TCP ports the operator reaches out to, as a JSON list of strings: those
of the Kafka bootstrap servers and the Temporal addresses in platform and
communities, the database ports and any extra ones.
*/}}
{{- define "kinship.operatorEgressPorts" -}}
{{- $ports := list }}
{{- $servers := concat .Values.platform.kafka.bootstrapServers (list .Values.platform.temporal.address) }}
{{- range .Values.communities }}
{{- $servers = concat $servers (default (list) (default (dict) .kafka).bootstrapServers) (list (default (dict) .temporal).address) }}
{{- end }}
{{- range $servers }}
{{- with regexFind ":[0-9]+$" (toString .) }}{{ $ports = append $ports (trimPrefix ":" .) }}{{ end }}
{{- end }}
{{- range concat .Values.networkPolicy.databasePorts .Values.networkPolicy.extraEgressPorts }}
{{- $ports = append $ports (toString .) }}
{{- end }}
{{- $ports | uniq | sortAlpha | toJson }}
{{- end }}
