# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether istioctl has to install or upgrade, decided from what the cluster holds (no I/O here).

Istio has no API for installs: istioctl renders its embedded charts and applies them. So the module
keeps a record of the settings it last installed (a ConfigMap next to istiod) and runs istioctl only
when istiod is missing, runs another version, or the settings differ from the record.
"""

from __future__ import annotations

from ansible.module_utils.common.yaml import yaml_dump, yaml_load

RECORD_KEY = "istio-operator.yaml"
VERSION_LABEL = "operator.istio.io/version"
MANAGED_BY = "nodeless.eks.istio"


def names(revision: str) -> dict:
    """istiod and the install record get the revision as suffix, like istioctl names its objects."""
    suffix = f"-{revision}" if revision else ""
    return {"istiod": f"istiod{suffix}", "record": f"nodeless-istio{suffix}"}


def recorded_operator(record: dict | None):
    """The IstioOperator stored in the record, parsed (None when absent or unreadable)."""
    text = ((record or {}).get("data") or {}).get(RECORD_KEY)
    if not text:
        return None
    try:
        return yaml_load(text)
    except Exception:  # pylint: disable=broad-except
        return None  # a hand-edited, broken record: install again, which rewrites it


def installed_version(deployment: dict | None) -> str:
    return (((deployment or {}).get("metadata") or {}).get("labels") or {}).get(VERSION_LABEL, "")


def decide(deployment: dict | None, record: dict | None, version: str, operator: dict) -> dict:
    """{'action': 'add' | 'change' | None, 'reason': text, 'from_version': installed version}."""
    current = installed_version(deployment)
    if not deployment:
        return {"action": "add", "reason": f"install Istio {version}", "from_version": ""}
    if current != version:
        return {"action": "change", "reason": f"upgrade Istio {current or 'of unknown version'} to {version}",
                "from_version": current}
    if recorded_operator(record) != operator:
        return {"action": "change", "reason": f"apply changed install settings to Istio {version}", "from_version": current}
    return {"action": None, "reason": f"Istio {version} is installed with these settings", "from_version": current}


def record_configmap(name: str, namespace: str, version: str, operator: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
        "data": {"version": version, RECORD_KEY: yaml_dump(operator, default_flow_style=False, sort_keys=True)},
    }


def istioctl_argv(istioctl: str, operator_file: str, timeout: int, kubeconfig: str | None, context: str | None) -> list[str]:
    argv = [istioctl, "install", "--skip-confirmation", "--filename", operator_file, "--readiness-timeout", f"{timeout}s"]
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    if context:
        argv += ["--context", context]
    return argv
