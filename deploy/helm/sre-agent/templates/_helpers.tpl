{{- define "sre-agent.name" -}}{{ .Release.Name }}{{- end -}}

{{- define "sre-agent.labels" -}}
app.kubernetes.io/name: sre-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* postgres when several replicas share the work, or when asked for. */}}
{{- define "sre-agent.postgres" -}}
{{- if or (gt (int .Values.replicaCount) 1) (eq .Values.store.type "postgres") -}}true{{- end -}}
{{- end -}}
