{{/* Names. */}}
{{- define "remit-control-plane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "remit-control-plane.fullname" -}}
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

{{- define "remit-control-plane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "remit-control-plane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: control-plane
app.kubernetes.io/part-of: remit
{{- end -}}

{{- define "remit-control-plane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "remit-control-plane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "remit-control-plane.serviceAccountName" -}}
{{- if .Values.controlPlane.serviceAccount.create -}}
{{- default (include "remit-control-plane.fullname" .) .Values.controlPlane.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controlPlane.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "remit-control-plane.pvcName" -}}
{{- if .Values.controlPlane.database.sqlite.persistence.existingClaim -}}
{{- .Values.controlPlane.database.sqlite.persistence.existingClaim -}}
{{- else -}}
{{- printf "%s-data" (include "remit-control-plane.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Refuse value combinations that cannot work (the schema says the same where it can). */}}
{{- define "remit-control-plane.validate" -}}
{{- $db := .Values.controlPlane.database -}}
{{- if and (eq $db.type "sqlite") (gt (int .Values.controlPlane.replicas) 1) -}}
{{- fail "controlPlane.replicas must be 1 with SQLite (one writer on a ReadWriteOnce volume); use PostgreSQL for more" -}}
{{- end -}}
{{- if and (eq $db.type "postgres") (not $db.postgres.urlSecret.name) -}}
{{- fail "controlPlane.database.postgres.urlSecret.name is required with PostgreSQL (a Secret holding the postgres:// URL)" -}}
{{- end -}}
{{- end -}}
