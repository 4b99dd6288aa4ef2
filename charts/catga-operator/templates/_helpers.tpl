{{/* Names and labels shared by the chart's templates. */}}
{{- define "catga-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "catga-operator.selectorLabels" -}}
app.kubernetes.io/name: catga-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "catga-operator.labels" -}}
{{ include "catga-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: catga
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "catga-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "catga-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
