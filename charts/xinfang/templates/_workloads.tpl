{{/*
Workloads of one service: ServiceAccount, ConfigMap, Deployment and the migration
hook Job. Each takes the per-service context (dict "root" $ "name" <name> "svc" <values>).
*/}}

{{- define "xinfang.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
  {{- with .svc.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}

{{- define "xinfang.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
data:
  {{- include "xinfang.svc.configData" . | nindent 2 }}
{{- end -}}

{{/* Pod-spec fields shared by the Deployment and the migration Job. */}}
{{- define "xinfang.podCommon" -}}
{{- $v := .root.Values -}}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
volumes:
  {{- include "xinfang.svc.volumes" . | nindent 2 }}
{{- end -}}

{{- define "xinfang.deployment" -}}
{{- $v := .root.Values -}}
{{- $svc := .svc -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
spec:
  {{- if include "xinfang.svc.fixedReplicas" . }}
  replicas: {{ $svc.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "xinfang.svc.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "xinfang.svc.labels" . | nindent 8 }}
        {{- with $svc.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "xinfang.svc.configChecksum" . }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "xinfang.svc.fullname" . }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- with $svc.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- include "xinfang.podCommon" . | nindent 6 }}
      {{- if $v.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $v.topologySpread.topologyKeys }}
        - topologyKey: {{ . }}
          maxSkew: {{ $v.topologySpread.maxSkew }}
          whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "xinfang.svc.selectorLabels" $ | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
        {{- end }}
      {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "xinfang.image" .root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command: [{{ include "xinfang.svc.binary" . | quote }}]
          args: ["serve"]
          ports:
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
          env:
            {{- include "xinfang.svc.env" . | nindent 12 }}
          startupProbe:
            httpGet:
              path: {{ $v.probes.startup.path }}
              port: http
            periodSeconds: {{ $v.probes.startup.periodSeconds }}
            failureThreshold: {{ $v.probes.startup.failureThreshold }}
            timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
          livenessProbe:
            httpGet:
              path: {{ $v.probes.liveness.path }}
              port: http
            periodSeconds: {{ $v.probes.liveness.periodSeconds }}
            failureThreshold: {{ $v.probes.liveness.failureThreshold }}
            timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
          readinessProbe:
            httpGet:
              path: {{ $v.probes.readiness.path }}
              port: http
            periodSeconds: {{ $v.probes.readiness.periodSeconds }}
            failureThreshold: {{ $v.probes.readiness.failureThreshold }}
            timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
          {{- if gt (int $v.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ $v.preStopSleepSeconds | int | toString | quote }}]
          {{- end }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "xinfang.svc.volumeMounts" . | nindent 12 }}
{{- end -}}

{{/*
The migration hook Job: the service's own image and binary with `migrate`, before
install and before every upgrade. The Secrets it reads must exist beforehand.
*/}}
{{- define "xinfang.migrationJob" -}}
{{- $v := .root.Values -}}
{{- $m := $v.migrations -}}
{{- $ctx := dict "root" .root "name" .name "svc" .svc "component" "migration" "inline" true -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "xinfang.svc.fullname" . | trunc 55 | trimSuffix "-" }}-migrate
  labels:
    {{- include "xinfang.svc.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $m.backoffLimit }}
  activeDeadlineSeconds: {{ $m.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "xinfang.svc.labels" $ctx | nindent 8 }}
    spec:
      restartPolicy: Never
      {{- with $m.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      {{- include "xinfang.podCommon" . | nindent 6 }}
      {{- with .svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: migrate
          image: {{ include "xinfang.image" .root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command: [{{ include "xinfang.svc.binary" . | quote }}]
          args: ["migrate"]
          env:
            {{- include "xinfang.svc.env" $ctx | nindent 12 }}
          resources:
            {{- toYaml $m.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "xinfang.svc.volumeMounts" . | nindent 12 }}
{{- end -}}
