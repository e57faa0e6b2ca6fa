{{/*
Scaling and availability of one service: PodDisruptionBudget, HPA, KEDA ScaledObject.
*/}}

{{- define "xinfang.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .svc.pdb.minAvailable) }}
  minAvailable: {{ .svc.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .svc.pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "xinfang.svc.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "xinfang.hpa" -}}
{{- $a := .svc.autoscaling -}}
{{- if and (kindIs "invalid" $a.targetCPUUtilizationPercentage) (kindIs "invalid" $a.targetMemoryUtilizationPercentage) -}}
{{- fail (printf "services.%s.autoscaling: set targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" .name) -}}
{{- end -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "services.%s.autoscaling: minReplicas > maxReplicas" .name) -}}
{{- end -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "xinfang.svc.fullname" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- range $res := list "cpu" "memory" }}
    {{- $target := ternary $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage (eq $res "cpu") }}
    {{- if not (kindIs "invalid" $target) }}
    - type: Resource
      resource:
        name: {{ $res }}
        target:
          type: Utilization
          averageUtilization: {{ $target }}
    {{- end }}
    {{- end }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end -}}

{{/*
A cron expression from a sensitive-period bound: "YYYY-MM-DD HH:MM" becomes
"M H D Mon *" (KEDA cron has no year); a 5-field cron expression passes through.
*/}}
{{- define "xinfang.periodCron" -}}
{{- $s := .value | trim -}}
{{- if regexMatch "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}$" $s -}}
{{- $t := toDate "2006-01-02 15:04" (replace "T" " " $s) -}}
{{- printf "%d %d %d %d *" $t.Minute $t.Hour $t.Day (atoi ($t | date "1")) -}}
{{- else if regexMatch "^[^ ]+( +[^ ]+){4}$" $s -}}
{{- $s -}}
{{- else -}}
{{- fail (printf "sensitivePeriods[%s].%s: %q is neither \"YYYY-MM-DD HH:MM\" nor a 5-field cron expression" .period .field $s) -}}
{{- end -}}
{{- end -}}

{{/* Epoch seconds of a dated bound, "" for a cron bound. */}}
{{- define "xinfang.periodEpoch" -}}
{{- if regexMatch "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}$" (trim .) -}}
{{- toDate "2006-01-02 15:04" (replace "T" " " (trim .)) | unixEpoch -}}
{{- end -}}
{{- end -}}

{{/*
KEDA ScaledObject: Kafka consumer lag of this service's group on the case topic,
optional CPU, and one cron trigger per sensitive period that applies to it.
*/}}
{{- define "xinfang.scaledObject" -}}
{{- $v := .root.Values -}}
{{- $k := .svc.keda -}}
{{- $name := .name -}}
{{- if gt (int $k.minReplicas) (int $k.maxReplicas) -}}
{{- fail (printf "services.%s.keda: minReplicas > maxReplicas" $name) -}}
{{- end -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "xinfang.svc.fullname" . }}
  pollingInterval: {{ $v.keda.pollingInterval }}
  cooldownPeriod: {{ $v.keda.cooldownPeriod }}
  minReplicaCount: {{ $k.minReplicas }}
  maxReplicaCount: {{ $k.maxReplicas }}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: {{ $v.keda.scaleDownStabilizationSeconds }}
  triggers:
    - type: kafka
      name: consumer-lag
      metadata:
        bootstrapServers: {{ $v.kafka.brokers | quote }}
        consumerGroup: {{ include "xinfang.svc.groupId" . | quote }}
        topic: {{ $v.kafka.topic | quote }}
        lagThreshold: {{ $k.lagThreshold | int64 | toString | quote }}
        activationLagThreshold: {{ $k.activationLagThreshold | int64 | toString | quote }}
        offsetResetPolicy: earliest
      {{- with $v.keda.kafkaAuthenticationRef }}
      authenticationRef:
        name: {{ . }}
      {{- end }}
    {{- if not (kindIs "invalid" $k.cpuUtilizationPercentage) }}
    - type: cpu
      name: cpu
      metricType: Utilization
      metadata:
        value: {{ $k.cpuUtilizationPercentage | int64 | toString | quote }}
    {{- end }}
    {{- range $p := $v.sensitivePeriods }}
    {{- if or (not $p.services) (has $name $p.services) }}
    {{- if gt (int $p.minReplicas) (int $k.maxReplicas) }}
    {{- fail (printf "sensitivePeriods[%s].minReplicas (%d) exceeds services.%s.keda.maxReplicas (%d)" $p.name (int $p.minReplicas) $name (int $k.maxReplicas)) }}
    {{- end }}
    {{- $startEpoch := include "xinfang.periodEpoch" $p.start }}
    {{- $endEpoch := include "xinfang.periodEpoch" $p.end }}
    {{- if and $startEpoch $endEpoch (le (int64 $endEpoch) (int64 $startEpoch)) }}
    {{- fail (printf "sensitivePeriods[%s]: end must be after start" $p.name) }}
    {{- end }}
    - type: cron
      name: {{ printf "period-%s" $p.name | trunc 63 | trimSuffix "-" }}
      metadata:
        timezone: {{ default "Asia/Shanghai" $p.timezone | quote }}
        start: {{ include "xinfang.periodCron" (dict "value" $p.start "period" $p.name "field" "start") | quote }}
        end: {{ include "xinfang.periodCron" (dict "value" $p.end "period" $p.name "field" "end") | quote }}
        desiredReplicas: {{ $p.minReplicas | int64 | toString | quote }}
    {{- end }}
    {{- end }}
{{- end -}}
