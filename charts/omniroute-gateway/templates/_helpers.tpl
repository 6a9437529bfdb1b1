{{/*
Chart name (app.kubernetes.io/name), truncated to 63 characters (DNS label limit).
*/}}
{{- define "omniroute-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified, Release-scoped name used for every resource: <release>-<chart>, or just <release>
when it already contains the chart name, or fullnameOverride. 63 characters at most.
*/}}
{{- define "omniroute-gateway.fullname" -}}
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

{{/*
Name of the migration Job and of its hook Secret (leaves room for the suffix within 63 characters).
*/}}
{{- define "omniroute-gateway.migrationsName" -}}
{{- printf "%s-migrations" (include "omniroute-gateway.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "omniroute-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every resource of the release carries (without app.kubernetes.io/component).
*/}}
{{- define "omniroute-gateway.commonLabels" -}}
helm.sh/chart: {{ include "omniroute-gateway.chart" . }}
app.kubernetes.io/name: {{ include "omniroute-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ default .Chart.AppVersion .Values.image.tag | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: omniroute-gateway
{{- end }}

{{/*
Standard labels of the gateway's resources.
*/}}
{{- define "omniroute-gateway.labels" -}}
{{ include "omniroute-gateway.commonLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
Selector labels of the gateway pods (Deployment, Service, PDB, NetworkPolicy, spread constraints).
The component keeps the migration Job's and the test's pods out of the Service and the PDB.
*/}}
{{- define "omniroute-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "omniroute-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
Labels of the migration Job and its pod.
*/}}
{{- define "omniroute-gateway.migrationsLabels" -}}
{{ include "omniroute-gateway.commonLabels" . }}
app.kubernetes.io/component: migrations
{{- end }}

{{/*
Labels of the `helm test` pod. The client label lets it through the NetworkPolicy.
*/}}
{{- define "omniroute-gateway.testLabels" -}}
{{ include "omniroute-gateway.commonLabels" . }}
app.kubernetes.io/component: test
{{ include "omniroute-gateway.clientLabel" . }}: "true"
{{- end }}

{{/*
Label key that the NetworkPolicy always admits: `<fullname>-client` (label keys: 63 characters).
*/}}
{{- define "omniroute-gateway.clientLabel" -}}
{{- printf "%s-client" (include "omniroute-gateway.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/*
ServiceAccount of the gateway pods.
*/}}
{{- define "omniroute-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "omniroute-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Secret holding ENCRYPTION_KEY, JWT_SECRET, INITIAL_ADMIN_KEY and INITIAL_PASSWORD.
*/}}
{{- define "omniroute-gateway.secretName" -}}
{{- default (include "omniroute-gateway.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
Secret and key holding DATABASE_URL.
*/}}
{{- define "omniroute-gateway.databaseSecretName" -}}
{{- default (include "omniroute-gateway.fullname" .) .Values.externalDatabase.existingSecret }}
{{- end }}
{{- define "omniroute-gateway.databaseSecretKey" -}}
{{- if .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecretKey }}
{{- else }}
{{- print "database-url" }}
{{- end }}
{{- end }}

{{/*
Secret and key holding REDIS_URL.
*/}}
{{- define "omniroute-gateway.redisSecretName" -}}
{{- default (include "omniroute-gateway.fullname" .) .Values.externalRedis.existingSecret }}
{{- end }}
{{- define "omniroute-gateway.redisSecretKey" -}}
{{- if .Values.externalRedis.existingSecret }}
{{- .Values.externalRedis.existingSecretKey }}
{{- else }}
{{- print "redis-url" }}
{{- end }}
{{- end }}

{{/*
Whether the chart renders its own Secret: for the app secrets (no existingSecret) or for a
DATABASE_URL / REDIS_URL given as a value. Renders "true" or nothing.
*/}}
{{- define "omniroute-gateway.createSecret" -}}
{{- if or (not .Values.secrets.existingSecret) .Values.externalDatabase.url .Values.externalRedis.url }}
{{- print "true" }}
{{- end }}
{{- end }}

{{/*
Gateway image: <registry>/<repository>@<digest> or :<tag> (default: the chart's appVersion). The
migration Job and the test pod use the same image.
*/}}
{{- define "omniroute-gateway.image" -}}
{{- $repository := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .Values.image.registry) .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
Checksum of everything that ends up in the gateway's Secret(s), so a change rolls the pods. Taken
over the values (not the rendered Secret) so the generated INITIAL_ADMIN_KEY, which only matters on
the very first start, never causes a rollout.
*/}}
{{- define "omniroute-gateway.secretChecksum" -}}
{{- list .Values.secrets .Values.externalDatabase .Values.externalRedis | toJson | sha256sum }}
{{- end }}

{{/*
Values checks that the JSON schema cannot express. Included by every template that needs them, so
`helm install`, `helm template` and `helm lint` stop with a clear message.
*/}}
{{- define "omniroute-gateway.validate" -}}
{{- if not .Values.secrets.existingSecret }}
{{- if not .Values.secrets.encryptionKey }}
{{- fail "secrets.encryptionKey is required (ENCRYPTION_KEY, e.g. `openssl rand -hex 32`; keep it, it seals stored provider credentials), or set secrets.existingSecret" }}
{{- end }}
{{- if not .Values.secrets.jwtSecret }}
{{- fail "secrets.jwtSecret is required (JWT_SECRET, 32+ characters, e.g. `openssl rand -hex 32`), or set secrets.existingSecret" }}
{{- end }}
{{- end }}
{{- if and .Values.externalDatabase.url .Values.externalDatabase.existingSecret }}
{{- fail "externalDatabase: set either url or existingSecret, not both" }}
{{- end }}
{{- if not (or .Values.externalDatabase.url .Values.externalDatabase.existingSecret) }}
{{- fail "an external PostgreSQL is required: set externalDatabase.url (postgres://user:pass@host:5432/db) or externalDatabase.existingSecret (+ existingSecretKey); this chart does not deploy a database" }}
{{- end }}
{{- if and .Values.externalRedis.url .Values.externalRedis.existingSecret }}
{{- fail "externalRedis: set either url or existingSecret, not both" }}
{{- end }}
{{- if not (or .Values.externalRedis.url .Values.externalRedis.existingSecret) }}
{{- fail "an external Redis is required (replicas share limits, breakers, cache and sessions through it): set externalRedis.url (redis://host:6379) or externalRedis.existingSecret (+ existingSecretKey)" }}
{{- end }}
{{- $drainSeconds := div (add .Values.shutdown.timeoutMs 999) 1000 }}
{{- $needed := add .Values.shutdown.preStopSleepSeconds $drainSeconds }}
{{- if ge $needed (int64 .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed shutdown.preStopSleepSeconds + shutdown.timeoutMs/1000 (%d s), or the kubelet kills pods that are still draining streams or flushing usage" (int64 .Values.terminationGracePeriodSeconds) $needed) }}
{{- end }}
{{- if and (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to null)" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int64 .Values.autoscaling.minReplicas) (int64 .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- $managed := list "NODE_ENV" "PORT" "DATA_DIR" "MIGRATIONS_RUN" "SHUTDOWN_TIMEOUT_MS" "DATABASE_URL" "REDIS_URL" "ENCRYPTION_KEY" "JWT_SECRET" "INITIAL_ADMIN_KEY" "INITIAL_PASSWORD" }}
{{- range .Values.extraEnv }}
{{- if has .name $managed }}
{{- fail (printf "extraEnv: %s is set by the chart (see values.yaml: secrets, externalDatabase, externalRedis, shutdown, migrations)" .name) }}
{{- end }}
{{- if hasKey $.Values.env .name }}
{{- fail (printf "extraEnv: %s is already set in env" .name) }}
{{- end }}
{{- end }}
{{- end }}
