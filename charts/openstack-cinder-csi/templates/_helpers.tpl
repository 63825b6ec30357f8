{{- define "cinder-csi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cinder-csi.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "cinder-csi.name" . -}}
{{- end -}}
{{- end -}}

{{- define "cinder-csi.labels" -}}
app.kubernetes.io/name: {{ include "cinder-csi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: osk8s
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "cinder-csi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cinder-csi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cinder-csi.image" -}}
{{ .repository }}:{{ .tag }}
{{- end -}}

{{- define "cinder-csi.pluginImage" -}}
{{ .Values.csi.plugin.image.repository }}:{{ .Values.csi.plugin.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* extraArgs map -> "--key=value" list items */}}
{{- define "cinder-csi.extraArgs" -}}
{{- range $k, $v := . }}
- --{{ $k }}={{ $v }}
{{- end }}
{{- end -}}

{{- define "cinder-csi.cloudConfigVolume" -}}
- name: cloud-config
{{- if .Values.secret.hostMount }}
  hostPath:
    path: /etc/kubernetes
{{- else }}
  secret:
    secretName: {{ .Values.secret.name }}
{{- end }}
{{- end -}}
