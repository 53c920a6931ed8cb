{{/* Names. */}}
{{- define "remit-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "remit-authz.fullname" -}}
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

{{- define "remit-authz.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "remit-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: authorizer
app.kubernetes.io/part-of: remit
{{- end -}}

{{- define "remit-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "remit-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "remit-authz.serviceAccountName" -}}
{{- if .Values.authz.serviceAccount.create -}}
{{- default (include "remit-authz.fullname" .) .Values.authz.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.authz.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Service's cluster FQDN: what the mesh registration points at. */}}
{{- define "remit-authz.serviceFQDN" -}}
{{- printf "%s.%s.svc.cluster.local" (include "remit-authz.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "remit-authz.tlsSecretName" -}}
{{- if .Values.tls.existingSecret -}}
{{- .Values.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-tls" (include "remit-authz.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "remit-authz.policyConfigMapName" -}}
{{- if .Values.authz.policy.existingConfigMap -}}
{{- .Values.authz.policy.existingConfigMap -}}
{{- else -}}
{{- printf "%s-policy" (include "remit-authz.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "remit-authz.governedNamespace" -}}
{{- .Values.istio.authorizationPolicy.namespace -}}
{{- end -}}

{{- define "remit-authz.peerAuthenticationNamespace" -}}
{{- default .Values.istio.authorizationPolicy.namespace .Values.istio.peerAuthentication.namespace -}}
{{- end -}}

{{/* Refuse value combinations that would leave the mesh ungoverned or the pod unable to start. */}}
{{- define "remit-authz.validate" -}}
{{- if and (not .Values.tls.certManager.enabled) (not .Values.tls.existingSecret) -}}
{{- fail "tls: set tls.certManager.enabled=true or tls.existingSecret: the gRPC listener always terminates TLS (plaintext is refused off loopback)" -}}
{{- end -}}
{{- if and .Values.tls.certManager.enabled .Values.tls.existingSecret -}}
{{- fail "tls: tls.certManager.enabled and tls.existingSecret are exclusive; set tls.certManager.enabled=false to use an existing Secret" -}}
{{- end -}}
{{- if and .Values.tls.clientCA.secretName .Values.tls.clientCA.configMapName -}}
{{- fail "tls.clientCA: give secretName or configMapName, not both" -}}
{{- end -}}
{{- if eq .Values.authz.policySource "controlPlane" -}}
{{- if not .Values.authz.controlPlane.url -}}
{{- fail "authz.controlPlane.url is required with authz.policySource=controlPlane" -}}
{{- end -}}
{{- if not .Values.authz.controlPlane.apiKeySecret.name -}}
{{- fail "authz.controlPlane.apiKeySecret.name is required with authz.policySource=controlPlane (a Secret holding an API key of role authorizer)" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.authz.policySource "controlPlane") .Values.authz.secrets -}}
{{- fail "authz.secrets is for policySource configMap; following a control plane, write secrets to it (PUT /v1/secrets/NAME) and they arrive sealed to each pod" -}}
{{- end -}}
{{- $secretNames := dict -}}
{{- range .Values.authz.secrets -}}
{{- if hasKey $secretNames .name -}}
{{- fail (printf "authz.secrets: %q is listed twice" .name) -}}
{{- end -}}
{{- $_ := set $secretNames .name true -}}
{{- end -}}
{{- if and (eq .Values.authz.policySource "configMap") (not .Values.authz.policy.existingConfigMap) (not .Values.authz.policy.inline) -}}
{{- fail "authz.policy: give inline or existingConfigMap with authz.policySource=configMap" -}}
{{- end -}}
{{- if eq (include "remit-authz.governedNamespace" .) .Release.Namespace -}}
{{- fail (printf "istio.authorizationPolicy.namespace is %q, the authorizer's own namespace: the authorizer must not govern itself. Install it in its own namespace (e.g. remit-system)" .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* REMIT_SECRETS: NAME=file:PATH for each mounted secret, comma-separated. */}}
{{- define "remit-authz.secretsOption" -}}
{{- $entries := list -}}
{{- range . -}}
{{- $entries = append $entries (printf "%s=file:/etc/remit/secrets/%s/%s" .name .name .key) -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}
