"""STAND-IN for the official Karpenter Helm chart (oci://public.ecr.aws/karpenter/karpenter).

Chart repositories and container images are unreachable from the lab, so tests install this
generated chart instead. It is NOT the official chart: it keeps only the official chart's values
contract that nodeless.eks relies on (settings.clusterName, settings.clusterEndpoint,
settings.interruptionQueue, serviceAccount.create / .name / .annotations, replicas) and renders a
ServiceAccount and a Deployment passing the settings as the controller's environment, as the
official chart does (CLUSTER_NAME, CLUSTER_ENDPOINT, INTERRUPTION_QUEUE). The v1 CRDs are not in it:
the lab installs the real ones (the official chart also ships them, in crds/ and in karpenter-crd).

    python tests/support/charts/karpenter.py OUT_DIR [--version 1.14.1]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

NAME = "karpenter"
DEFAULT_VERSION = "1.14.1"

VALUES = {
    "replicas": 2,
    "serviceAccount": {"create": True, "name": "", "annotations": {}},
    "settings": {"clusterName": "", "clusterEndpoint": "", "interruptionQueue": "", "isolatedVPC": False},
    "controller": {"image": {"repository": "public.ecr.aws/karpenter/controller", "tag": ""}},
}

# Helm templates; {{ }} are Helm's, so these are plain strings (no Python formatting).
SERVICE_ACCOUNT = """\
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Values.serviceAccount.name | default .Chart.Name }}
  namespace: {{ .Release.Namespace }}
  {{- with .Values.serviceAccount.annotations }}
  annotations: {{ toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}, nodeless.eks/stand-in: "true"}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      serviceAccountName: {{ .Values.serviceAccount.name | default .Chart.Name }}
      containers:
        - name: controller
          image: {{ .Values.controller.image.repository }}:{{ .Values.controller.image.tag | default .Chart.AppVersion }}
          env:
            - name: CLUSTER_NAME
              value: {{ required "settings.clusterName is required" .Values.settings.clusterName | quote }}
            - name: CLUSTER_ENDPOINT
              value: {{ .Values.settings.clusterEndpoint | quote }}
            - name: INTERRUPTION_QUEUE
              value: {{ .Values.settings.interruptionQueue | quote }}
"""


def build(out_dir: str | Path, version: str = DEFAULT_VERSION) -> Path:
    """Write the stand-in chart to OUT_DIR/karpenter and return that path."""
    chart = Path(out_dir) / NAME
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": NAME, "version": version, "appVersion": version, "type": "application",
        "description": "STAND-IN for the official Karpenter chart (nodeless.eks lab tests only)",
    }, sort_keys=False))
    (chart / "values.yaml").write_text(yaml.safe_dump(VALUES, sort_keys=False))
    for name, text in (("serviceaccount.yaml", SERVICE_ACCOUNT), ("deployment.yaml", DEPLOYMENT)):
        (chart / "templates" / name).write_text(text)
    return chart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--version", default=DEFAULT_VERSION)
    args = parser.parse_args()
    print(build(args.out_dir, args.version))


if __name__ == "__main__":
    main()
