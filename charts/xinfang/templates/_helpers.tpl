{{/*
Shared helpers: names, labels, image, the service list.

Per-service templates take a context built by "xinfang.ctx":
  (dict "root" $ "name" "intake" "svc" $.Values.services.intake)
*/}}

{{/* The five services, in a fixed order (the contract). */}}
{{- define "xinfang.serviceNames" -}}
intake routing supervision scheduling reporting
{{- end -}}

{{/* Chart name, overridable. */}}
{{- define "xinfang.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource-name prefix: fullnameOverride, the release name when it already holds
the chart name, otherwise "<release>-<chart>". */}}
{{- define "xinfang.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "xinfang.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of one service's resources, e.g. "xinfang-intake". */}}
{{- define "xinfang.svc.fullname" -}}
{{- printf "%s-%s" (include "xinfang.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Value of app.kubernetes.io/name for one service, e.g. "xinfang-intake". */}}
{{- define "xinfang.svc.appName" -}}
{{- printf "%s-%s" (include "xinfang.name" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every resource of the release. */}}
{{- define "xinfang.commonLabels" -}}
helm.sh/chart: {{ include "xinfang.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: {{ include "xinfang.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector for all pods of the release (deny-all NetworkPolicy). */}}
{{- define "xinfang.releaseSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: {{ include "xinfang.name" . }}
{{- end -}}

{{/* Selector for all pods of one service, API and migration alike. */}}
{{- define "xinfang.svc.podSelectorLabels" -}}
app.kubernetes.io/name: {{ include "xinfang.svc.appName" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Selector for one service's API pods (Deployment, Service, PDB). */}}
{{- define "xinfang.svc.selectorLabels" -}}
{{ include "xinfang.svc.podSelectorLabels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{/* Labels of one service's resources; .component defaults to "api". */}}
{{- define "xinfang.svc.labels" -}}
{{ include "xinfang.commonLabels" .root }}
app.kubernetes.io/name: {{ include "xinfang.svc.appName" . }}
app.kubernetes.io/component: {{ .component | default "api" }}
{{- end -}}

{{/* The image reference: [registry/]repository(@digest|:tag). */}}
{{- define "xinfang.image" -}}
{{- $img := .Values.image -}}
{{- $repo := $img.repository -}}
{{- if $img.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion $img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* The binary a service runs (the contract: /usr/local/bin/xf-<service>). */}}
{{- define "xinfang.svc.binary" -}}
/usr/local/bin/xf-{{ .name }}
{{- end -}}

{{/* Whether a service has a fixed replica count ("true") or is autoscaled (""). */}}
{{- define "xinfang.svc.fixedReplicas" -}}
{{- if not (or .svc.autoscaling.enabled .svc.keda.enabled) -}}true{{- end -}}
{{- end -}}

{{/* The DLQ topic a service uses. */}}
{{- define "xinfang.svc.dlqTopic" -}}
{{- default .root.Values.kafka.dlqTopic .svc.kafka.dlqTopic -}}
{{- end -}}

{{/* The consumer group a service uses. */}}
{{- define "xinfang.svc.groupId" -}}
{{- default (printf "xinfang-%s" .name) .svc.kafka.groupId -}}
{{- end -}}
