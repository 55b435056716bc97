"""STAND-IN for the official aws-load-balancer-controller Helm chart (https://aws.github.io/eks-charts).

Chart repositories and container images are unreachable from the lab, so tests install this
generated chart instead. It is NOT the official chart: it keeps only the official chart's values
contract that nodeless.eks relies on (clusterName, serviceAccount.create / .name, region, vpcId,
replicaCount), renders a Deployment passing them as the controller's flags, the webhook Service
and the `alb` IngressClass, and ships CRDs in `crds/` as the official chart does (Helm installs
them once and never upgrades them; the role applies them itself).

The CRDs are generated: the TargetGroupBinding + IngressClassParams pair the controller cannot start
without, marked synthetic, with upstream's names, scopes and storage version (compared with upstream's
crds.yaml by test_aws_load_balancer_controller's drift test, listed in tests/skips.yml; this module reads no
upstream data).

    python tests/support/charts/aws_load_balancer_controller.py OUT_DIR [--version 3.5.0] [--crds FILE]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

NAME = "aws-load-balancer-controller"
DEFAULT_VERSION = "3.5.0"

VALUES = {
    "replicaCount": 2,
    "clusterName": "",
    "region": "",
    "vpcId": "",
    "serviceAccount": {"create": True, "name": "", "annotations": {}},
    "image": {"repository": "public.ecr.aws/eks/aws-load-balancer-controller", "tag": ""},
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
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      serviceAccountName: {{ .Values.serviceAccount.name | default .Chart.Name }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ .Values.image.repository }}:{{ .Values.image.tag | default (printf "v%s" .Chart.AppVersion) }}
          args:
            - --cluster-name={{ required "Chart cannot be installed without a valid clusterName!" .Values.clusterName }}
            - --ingress-class=alb
            {{- with .Values.region }}
            - --aws-region={{ . }}
            {{- end }}
            {{- with .Values.vpcId }}
            - --aws-vpc-id={{ . }}
            {{- end }}
          ports:
            - {name: webhook-server, containerPort: 9443, protocol: TCP}
"""
WEBHOOK_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: aws-load-balancer-webhook-service
  namespace: {{ .Release.Namespace }}
spec:
  selector: {app.kubernetes.io/name: {{ .Chart.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
  ports:
    - {name: webhook-server, port: 443, targetPort: webhook-server}
"""
INGRESS_CLASS = """\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: alb
spec:
  controller: ingress.k8s.aws/alb
"""
# The two kinds the controller cannot start without.
SYNTHETIC_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.elbv2.k8s.aws
  annotations: {{nodeless.eks/synthetic: "stand-in CRD; the real one ships with the official chart"}}
spec:
  group: elbv2.k8s.aws
  names: {{kind: {kind}, listKind: {kind}List, plural: {plural}, singular: {singular}}}
  scope: {scope}
  versions:
    - name: v1beta1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def synthetic_crds() -> str:
    kinds = (("TargetGroupBinding", "targetgroupbindings", "targetgroupbinding", "Namespaced"),
             ("IngressClassParams", "ingressclassparams", "ingressclassparams", "Cluster"))
    return "---\n".join(SYNTHETIC_CRD.format(kind=k, plural=p, singular=s, scope=sc) for k, p, s, sc in kinds)


def build(out_dir: str | Path, version: str = DEFAULT_VERSION, crds: str | None = None) -> Path:
    """Write the stand-in chart to OUT_DIR/aws-load-balancer-controller and return that path."""
    chart = Path(out_dir) / NAME
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "crds").mkdir(exist_ok=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": NAME, "version": version, "appVersion": version, "type": "application",
        "description": "STAND-IN for the official AWS Load Balancer Controller chart (nodeless.eks lab tests only)",
    }, sort_keys=False))
    (chart / "values.yaml").write_text(yaml.safe_dump(VALUES, sort_keys=False))
    for name, text in (("serviceaccount.yaml", SERVICE_ACCOUNT), ("deployment.yaml", DEPLOYMENT),
                       ("webhook-service.yaml", WEBHOOK_SERVICE), ("ingressclass.yaml", INGRESS_CLASS)):
        (chart / "templates" / name).write_text(text)
    text = crds if crds is not None else synthetic_crds()
    (chart / "crds" / "crds.yaml").write_text(text)
    return chart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--crds", type=Path, help="CRD manifests to ship (default: the generated pair)")
    args = parser.parse_args()
    print(build(args.out_dir, args.version, args.crds.read_text() if args.crds else None))


if __name__ == "__main__":
    main()
