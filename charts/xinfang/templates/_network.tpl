{{/*
Networking of one service: Service, NetworkPolicy, Ingress, ServiceMonitor.
*/}}

{{- define "xinfang.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "xinfang.svc.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .svc.port }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{/* An egress rule: ports to the given peers (all destinations when there are none). */}}
{{- define "xinfang.egressRule" -}}
- ports:
    {{- range $port := .ports }}
    {{- range $.protocols }}
    - port: {{ $port }}
      protocol: {{ . }}
    {{- end }}
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
Per-service policy (the release-wide deny-all is in networkpolicy.yaml). Applies to
the service's API pods and its migration pods; egress to DNS, Postgres, Kafka and the
OTLP collector; ingress to the HTTP port from the ingress controller, Prometheus and
the console.
*/}}
{{- define "xinfang.networkPolicy" -}}
{{- $np := .root.Values.networkPolicy -}}
{{- $from := concat $np.ingressController.from $np.prometheus.from $np.extraIngressFrom -}}
{{- if .root.Values.console.enabled -}}
{{- $console := include "xinfang.svc.selectorLabels" (dict "root" .root "name" "console" "svc" .root.Values.console) | fromYaml -}}
{{- $from = append $from (dict "podSelector" (dict "matchLabels" $console)) -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "xinfang.svc.podSelectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  {{- if $from }}
  ingress:
    - from:
        {{- toYaml $from | nindent 8 }}
      ports:
        - port: {{ .svc.port }}
          protocol: TCP
  {{- else }}
  ingress: []
  {{- end }}
  egress:
    {{- include "xinfang.egressRule" (dict "to" $np.dns.to "ports" $np.dns.ports "protocols" (list "UDP" "TCP")) | nindent 4 }}
    {{- include "xinfang.egressRule" (dict "to" $np.postgres.to "ports" $np.postgres.ports "protocols" (list "TCP")) | nindent 4 }}
    {{- include "xinfang.egressRule" (dict "to" $np.kafka.to "ports" $np.kafka.ports "protocols" (list "TCP")) | nindent 4 }}
    {{- if .root.Values.config.telemetry.otlpEndpoint }}
    {{- include "xinfang.egressRule" (dict "to" $np.otlp.to "ports" $np.otlp.ports "protocols" (list "TCP")) | nindent 4 }}
    {{- end }}
{{- end -}}

{{- define "xinfang.ingress" -}}
{{- $ing := .root.Values.ingress -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
  {{- with $ing.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $ing.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $ing.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    - {{- with .svc.ingress.host }}
      host: {{ . | quote }}
      {{- end }}
      http:
        paths:
          - path: {{ .svc.ingress.path }}
            pathType: {{ .svc.ingress.pathType }}
            backend:
              service:
                name: {{ include "xinfang.svc.fullname" . }}
                port:
                  name: http
{{- end -}}

{{- define "xinfang.serviceMonitor" -}}
{{- $sm := .root.Values.serviceMonitor -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "xinfang.svc.fullname" . }}
  labels:
    {{- include "xinfang.svc.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "xinfang.svc.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end -}}
