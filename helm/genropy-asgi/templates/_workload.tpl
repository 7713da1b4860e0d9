{{/*
One Deployment of the image in a given mode: the single topology's one Deployment and
each workload of the scaled topology (web, gnrdaemon, scheduler, taskworker) come from
here, so they share the image, security context, configuration, secrets and volumes.
Parameters (a dict): root, component ("" for the single topology), args, env (a list),
replicas (omitted with autoscaling), ports, probe ("http", "tcp", "exec": a liveness probe only, or "none"), port (the
probed TCP port), strategy, web (preStop drain, spread), resources.
*/}}
{{- define "genropy-asgi.workload" -}}
{{- $root := .root }}
{{- $name := include "genropy-asgi.fullname" $root }}
{{- if .component }}{{ $name = printf "%s-%s" $name .component | trunc 63 | trimSuffix "-" }}{{ end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  annotations:
    {{- include "genropy-asgi.checkovSkips" (dict "extra" (ternary (list "CKV_K8S_9=a task worker serves no traffic: nothing to be ready for (its liveness probe execs)") list (eq .probe "exec"))) | nindent 4 }}
  labels:
    {{- include "genropy-asgi.labels" $root | nindent 4 }}
    {{- with .component }}
    app.kubernetes.io/component: {{ . }}
    {{- end }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  {{- with .strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "genropy-asgi.selectorLabels" $root | nindent 6 }}
      {{- with .component }}
      app.kubernetes.io/component: {{ . }}
      {{- end }}
  template:
    metadata:
      annotations:
        # pods roll when the configuration or the secrets change
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "genropy-asgi.selectorLabels" $root | nindent 8 }}
        {{- with .component }}
        app.kubernetes.io/component: {{ . }}
        {{- end }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      serviceAccountName: {{ include "genropy-asgi.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
      securityContext:
        {{- include "genropy-asgi.podSecurityContext" $root | nindent 8 }}
      terminationGracePeriodSeconds: {{ add $root.Values.site.shutdownTimeout 20 }}  {{- /* preStop 5 + drain + 15 (genropy_asgi.settings.stop_grace_seconds) */}}
      containers:
        - name: {{ .component | default "site" }}
          image: {{ include "genropy-asgi.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: {{ toJson .args }}
          securityContext:
            {{- include "genropy-asgi.containerSecurityContext" $root | nindent 12 }}
          {{- with .ports }}
          ports:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          envFrom:
            {{- include "genropy-asgi.envFrom" $root | nindent 12 }}
          env:
            {{- include "genropy-asgi.env" $root | nindent 12 }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          volumeMounts:
            {{- include "genropy-asgi.volumeMounts" $root | nindent 12 }}
          {{- if eq .probe "http" }}
          startupProbe:
            httpGet: {path: /_server/health, port: http}
            {{- toYaml $root.Values.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet: {path: /_server/health, port: http}
            {{- toYaml $root.Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet: {path: /_server/ready, port: http}
            {{- toYaml $root.Values.probes.readiness | nindent 12 }}
          {{- else if eq .probe "tcp" }}
          startupProbe:
            tcpSocket: {port: {{ .port }}}
            {{- toYaml $root.Values.probes.startup | nindent 12 }}
          livenessProbe:
            tcpSocket: {port: {{ .port }}}
            {{- toYaml $root.Values.probes.liveness | nindent 12 }}
          readinessProbe:
            tcpSocket: {port: {{ .port }}}
            {{- toYaml $root.Values.probes.readiness | nindent 12 }}
          {{- else if eq .probe "exec" }}
          livenessProbe:
            # the program and its process pool: neither stopped nor a zombie (never a dependency)
            exec: {command: [/opt/venv/bin/python, -m, genropy_asgi.container.liveness]}
            {{- toYaml $root.Values.probes.liveness | nindent 12 }}
          {{- end }}
          {{- if .web }}
          lifecycle:
            # let the endpoints forget this pod before SIGTERM starts the drain
            preStop:
              exec:
                command: ["sleep", "5"]
          {{- end }}
          resources:
            {{- toYaml .resources | nindent 12 }}
      volumes:
        {{- include "genropy-asgi.volumes" $root | nindent 8 }}
      {{- if and .web .component $root.Values.spreadAcrossNodes }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "genropy-asgi.selectorLabels" $root | nindent 14 }}
              app.kubernetes.io/component: {{ .component }}
      {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
