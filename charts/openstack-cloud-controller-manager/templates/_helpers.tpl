{{- define "occm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "occm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "occm.name" . -}}
{{- end -}}
{{- end -}}

{{/* The selector labels of CPO's chart, so `helm upgrade` from CPO's release keeps the
DaemonSet (a selector cannot change). */}}
{{- define "occm.selectorLabels" -}}
component: controllermanager
app: {{ include "occm.name" . }}
release: {{ .Release.Name }}
{{- end -}}

{{- define "occm.labels" -}}
{{ include "occm.selectorLabels" . }}
app.kubernetes.io/name: {{ include "occm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: osk8s
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "occm.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* cloud.conf from .Values.cloudConfig: one INI section per non-empty map, values quoted
as CPO's chart does (gcfg reads the quotes away). */}}
{{- define "occm.cloudConfig" -}}
{{- if .Values.cloudConfigContents -}}
{{ .Values.cloudConfigContents }}
{{- else -}}
{{- $sections := dict "global" "Global" "networking" "Networking" "loadBalancer" "LoadBalancer" "blockStorage" "BlockStorage" "metadata" "Metadata" "route" "Route" -}}
{{- range $key, $section := $sections }}
{{- $values := index $.Values.cloudConfig $key }}
{{- if $values }}
[{{ $section }}]
{{- range $k, $v := $values }}
{{ $k }} = {{ $v | quote }}
{{- end }}
{{ end }}
{{- end }}
{{- end -}}
{{- end -}}
