{{/*
Configuration of one service: the XF_<SECTION>__<KEY> variables the chart sets.

Only keys the binaries accept may appear here (unknown XF_ keys are refused at
start-up); scripts/charts/check.sh compares the rendered names with each binary's
`config-keys` output. Empty strings and nulls are left out so compiled-in defaults apply.
*/}}

{{- define "xinfang.authKeyDir" -}}/etc/xinfang/auth{{- end -}}
{{- define "xinfang.vaultKeyDir" -}}/etc/xinfang/vault{{- end -}}

{{/* Whether a service mounts the vault keys ("true" or ""). Only intake holds personal data. */}}
{{- define "xinfang.svc.usesVault" -}}
{{- if eq .name "intake" -}}true{{- end -}}
{{- end -}}

{{/* Non-secret settings as a YAML map of strings (the ConfigMap's data). */}}
{{- define "xinfang.svc.configData" -}}
{{- $v := .root.Values -}}
{{- $svc := .svc -}}
{{- $d := dict -}}
{{- /* http */ -}}
{{- $_ := set $d "XF_HTTP__HOST" (required "config.http.host is required" $v.config.http.host) -}}
{{- $_ := set $d "XF_HTTP__PORT" ($svc.port | int64 | toString) -}}
{{- if not (kindIs "invalid" $v.config.http.maxBodyBytes) -}}
{{- $_ := set $d "XF_HTTP__MAX_BODY_BYTES" ($v.config.http.maxBodyBytes | int64 | toString) -}}
{{- end -}}
{{- /* database (the URL comes from the Secret, see xinfang.svc.env) */ -}}
{{- $_ := set $d "XF_DATABASE__SCHEMA" (default .name $svc.database.schema) -}}
{{- $maxConn := $v.config.database.maxConnections -}}
{{- if not (kindIs "invalid" $svc.database.maxConnections) -}}
{{- $maxConn = $svc.database.maxConnections -}}
{{- end -}}
{{- if not (kindIs "invalid" $maxConn) -}}
{{- $_ := set $d "XF_DATABASE__MAX_CONNECTIONS" ($maxConn | int64 | toString) -}}
{{- end -}}
{{- /* kafka */ -}}
{{- $_ := set $d "XF_KAFKA__BROKERS" (required "kafka.brokers is required" $v.kafka.brokers) -}}
{{- $_ := set $d "XF_KAFKA__TOPIC" $v.kafka.topic -}}
{{- $_ := set $d "XF_KAFKA__DLQ_TOPIC" (include "xinfang.svc.dlqTopic" .) -}}
{{- $_ := set $d "XF_KAFKA__PARTITIONS" ($v.kafka.partitions | int64 | toString) -}}
{{- $_ := set $d "XF_KAFKA__REPLICATION_FACTOR" ($v.kafka.replicationFactor | int64 | toString) -}}
{{- $_ := set $d "XF_KAFKA__GROUP_ID" (include "xinfang.svc.groupId" .) -}}
{{- if not (kindIs "invalid" $v.kafka.messageTimeoutMs) -}}
{{- $_ := set $d "XF_KAFKA__MESSAGE_TIMEOUT_MS" ($v.kafka.messageTimeoutMs | int64 | toString) -}}
{{- end -}}
{{- /* auth */ -}}
{{- $_ := set $d "XF_AUTH__PUBLIC_KEY_FILE" (printf "%s/%s" (include "xinfang.authKeyDir" .) $v.auth.publicKey.key) -}}
{{- $_ := set $d "XF_AUTH__ALGORITHM" $v.auth.algorithm -}}
{{- with $v.auth.issuer }}{{ $_ := set $d "XF_AUTH__ISSUER" . }}{{ end -}}
{{- with $v.auth.audience }}{{ $_ := set $d "XF_AUTH__AUDIENCE" . }}{{ end -}}
{{- with $v.auth.jwksUrl }}{{ $_ := set $d "XF_AUTH__JWKS_URL" . }}{{ end -}}
{{- /* telemetry */ -}}
{{- with $v.config.telemetry.otlpEndpoint }}{{ $_ := set $d "XF_TELEMETRY__OTLP_ENDPOINT" . }}{{ end -}}
{{- with $v.config.telemetry.logFormat }}{{ $_ := set $d "XF_TELEMETRY__LOG_FORMAT" . }}{{ end -}}
{{- with (default $v.config.telemetry.logLevel $svc.logLevel) }}{{ $_ := set $d "XF_TELEMETRY__LOG_LEVEL" . }}{{ end -}}
{{- /* vault (intake only) */ -}}
{{- if include "xinfang.svc.usesVault" . -}}
{{- $_ := set $d "XF_VAULT__KEY_FILE" (printf "%s/%s" (include "xinfang.vaultKeyDir" .) $v.vault.encryptionKeyKey) -}}
{{- $_ := set $d "XF_VAULT__PSEUDONYM_KEY_FILE" (printf "%s/%s" (include "xinfang.vaultKeyDir" .) $v.vault.pseudonymKeyKey) -}}
{{- end -}}
{{- toYaml $d -}}
{{- end -}}

{{/*
The container env of one service. Every XF_ variable is an explicit `env` entry so
the names can be checked. With .inline the values are written in place (migration
hook Jobs run before the ConfigMap exists); otherwise they come from the ConfigMap.
*/}}
{{- define "xinfang.svc.env" -}}
{{- $cm := include "xinfang.svc.fullname" . -}}
{{- $data := include "xinfang.svc.configData" . | fromYaml -}}
- name: XF_DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ .svc.database.secretName }}
      key: {{ .svc.database.key }}
{{- range $k, $val := $data }}
- name: {{ $k }}
{{- if $.inline }}
  value: {{ $val | quote }}
{{- else }}
  valueFrom:
    configMapKeyRef:
      name: {{ $cm }}
      key: {{ $k }}
{{- end }}
{{- end }}
{{- with .svc.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes of one service's pods: scratch /tmp and the key Secrets. */}}
{{- define "xinfang.svc.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
- name: auth-key
  secret:
    secretName: {{ .root.Values.auth.publicKey.secretName }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.auth.publicKey.key }}
        path: {{ .root.Values.auth.publicKey.key }}
{{- if include "xinfang.svc.usesVault" . }}
- name: vault-keys
  secret:
    secretName: {{ .root.Values.vault.secretName }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.vault.encryptionKeyKey }}
        path: {{ .root.Values.vault.encryptionKeyKey }}
      - key: {{ .root.Values.vault.pseudonymKeyKey }}
        path: {{ .root.Values.vault.pseudonymKeyKey }}
{{- end }}
{{- end -}}

{{- define "xinfang.svc.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: auth-key
  mountPath: {{ include "xinfang.authKeyDir" . }}
  readOnly: true
{{- if include "xinfang.svc.usesVault" . }}
- name: vault-keys
  mountPath: {{ include "xinfang.vaultKeyDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The checksum that rolls a service's pods when its configuration changes. */}}
{{- define "xinfang.svc.configChecksum" -}}
{{- include "xinfang.svc.configData" . | sha256sum -}}
{{- end -}}
