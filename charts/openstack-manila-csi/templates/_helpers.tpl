{{- define "manila-csi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "manila-csi.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "manila-csi.name" . -}}
{{- end -}}
{{- end -}}

{{- define "manila-csi.labels" -}}
app.kubernetes.io/name: {{ include "manila-csi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: osk8s
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "manila-csi.image" -}}
{{ .repository }}:{{ .tag }}
{{- end -}}

{{- define "manila-csi.pluginImage" -}}
{{ .Values.csimanila.image.repository }}:{{ .Values.csimanila.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The plugin's own flags, shared by controller and node (upstream spelling). */}}
{{- define "manila-csi.pluginArgs" -}}
- --v={{ .root.Values.logVerbosityLevel }}
- --endpoint=$(CSI_ENDPOINT)
- --drivername=$(DRIVER_NAME)
- --share-protocol-selector=$(MANILA_SHARE_PROTO)
- --fwdendpoint=$(FWD_CSI_ENDPOINT)
{{- if .root.Values.csimanila.topologyAwarenessEnabled }}
- --with-topology
{{- end }}
{{- if .root.Values.csimanila.runtimeConfig.enabled }}
- --runtime-config-file=/runtimeconfig/runtimeconfig.json
{{- end }}
{{- with .root.Values.csimanila.clusterID }}
- --cluster-id={{ . }}
{{- end }}
{{- if .root.Values.csimanila.pvcAnnotations }}
- --pvc-annotations
{{- end }}
{{- end -}}

{{- define "manila-csi.pluginEnv" -}}
- name: DRIVER_NAME
  value: {{ .protocol.protocolSelector | lower }}.{{ .root.Values.driverName }}
- name: CSI_ENDPOINT
  value: unix:///var/lib/kubelet/plugins/{{ .protocol.protocolSelector | lower }}.{{ .root.Values.driverName }}/csi-controllerplugin.sock
- name: MANILA_SHARE_PROTO
  value: {{ .protocol.protocolSelector | quote }}
- name: FWD_CSI_ENDPOINT
  value: unix://{{ .protocol.fwdNodePluginEndpoint.dir }}/{{ .protocol.fwdNodePluginEndpoint.sockFile }}
{{- end -}}
