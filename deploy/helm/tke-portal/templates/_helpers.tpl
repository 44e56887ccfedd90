{{/* Chart name. */}}
{{- define "tke-portal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name. */}}
{{- define "tke-portal.fullname" -}}
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

{{/* Labels shared by every object. */}}
{{- define "tke-portal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "tke-portal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels; callers add app.kubernetes.io/component. */}}
{{- define "tke-portal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tke-portal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tke-portal.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tke-portal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tke-portal.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tke-portal.secretName" -}}
{{- default (include "tke-portal.fullname" .) .Values.secret.existingSecret -}}
{{- end -}}

{{/* ALLOWED_HOSTS joined; fails the render when empty (production settings require it). */}}
{{- define "tke-portal.allowedHosts" -}}
{{- if not .Values.allowedHosts -}}
{{- fail "allowedHosts must name at least one host (ALLOWED_HOSTS)" -}}
{{- end -}}
{{- join "," .Values.allowedHosts -}}
{{- end -}}

{{/* Host header for HTTP probes: production settings answer 400 to hosts not allowed. */}}
{{- define "tke-portal.probeHost" -}}
{{- $host := trimPrefix "." (first .Values.allowedHosts | toString) -}}
{{- if or (eq $host "") (eq $host "*") -}}localhost{{- else -}}{{ $host }}{{- end -}}
{{- end -}}

{{/* httpGet of /healthz. Production settings reject unknown Host headers (400) and redirect
plain HTTP (301), so probe the way the TLS proxy forwards requests. */}}
{{- define "tke-portal.healthzGet" -}}
path: /healthz
port: http
httpHeaders:
  - name: Host
    value: {{ include "tke-portal.probeHost" . | quote }}
  - name: X-Forwarded-Proto
    value: https
{{- end -}}

{{/* Environment shared by every container: the ConfigMap and the Secret. */}}
{{- define "tke-portal.envFrom" -}}
- configMapRef:
    name: {{ include "tke-portal.fullname" . }}
- secretRef:
    name: {{ include "tke-portal.secretName" . }}
{{- end -}}

{{/* Pod-level settings shared by every workload. */}}
{{- define "tke-portal.podSpecCommon" -}}
serviceAccountName: {{ include "tke-portal.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # The root filesystem is read-only; Python and Celery may still want a scratch /tmp.
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
{{- end -}}

{{/* More items of podSpecCommon's volumes (included right after it): terminal recordings
(TERMINAL_RECORDING_DIR), in the web pods that write them and the worker that purges old ones
only, so the beat and migrate pods never hold the claim. */}}
{{- define "tke-portal.recordingsVolume" -}}
{{- if .Values.recordings.existingClaim }}
  - name: recordings
    persistentVolumeClaim:
      claimName: {{ .Values.recordings.existingClaim }}
{{- end }}
{{- end -}}

{{/* The recordings volume's mount, in the web and worker containers (when a claim is set). */}}
{{- define "tke-portal.recordingsMount" -}}
{{- if .Values.recordings.existingClaim }}
- name: recordings
  mountPath: {{ .Values.recordings.mountPath }}
{{- end }}
{{- end -}}

{{/* Pod annotations that roll the pods when configuration changes. */}}
{{- define "tke-portal.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secret.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
