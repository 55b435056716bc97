# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``addons`` role's decisions: which EKS managed add-ons each of its two steps sends to ``eks_addon`` and with
which configuration values, and the checks of its variables (before any write). Pure functions, unit-tested.

SETTINGS is the role's variables without their ``addons_`` prefix (``vpc_cni``, ``vpc_cni_version``,
``vpc_cni_values``, ... ``remove``, ``allow_critical_removal``), plus ``vpc_cni_env`` (the aws-node environment
decided by module_utils/vpc_cni.py from the vpc_cni role's settings), ``coredns_fargate`` (resolved to a bool) and
``ebs_csi_driver_role_arn`` and ``ebs_csi_driver_identity`` (irsa or pod_identity).

Steps follow what EKS needs: ``before_capacity`` (vpc-cni, so nodes join with its settings; kube-proxy; the Pod
Identity agent: DaemonSets that run on whatever nodes come) and ``after_capacity`` (CoreDNS and the EBS CSI
controller: Deployments that are DEGRADED until a node can run them).
"""

from __future__ import annotations

# role variable key -> EKS add-on name, and the step it belongs to
ADDONS = {
    "vpc_cni": ("vpc-cni", "before_capacity"),
    "kube_proxy": ("kube-proxy", "before_capacity"),
    "pod_identity_agent": ("eks-pod-identity-agent", "before_capacity"),
    "coredns": ("coredns", "after_capacity"),
    "ebs_csi_driver": ("aws-ebs-csi-driver", "after_capacity"),
}
STEPS = ("before_capacity", "after_capacity")
# Add-ons whose workload the cluster cannot do without (DNS, pod networking, Services).
CRITICAL = {"coredns": "the cluster's DNS", "vpc-cni": "pod networking", "kube-proxy": "Service routing"}
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
FARGATE_TAINT = {"key": "eks.amazonaws.com/compute-type", "operator": "Equal", "value": "fargate", "effect": "NoSchedule"}


def _step_of(name: str) -> str:
    return next((step for addon, step in ADDONS.values() if addon == name), "before_capacity")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def values(settings: dict, key: str) -> dict:
    """The configuration values the role sends for add-on KEY: its own decisions, then the user's values over them."""
    own = {}
    if key == "vpc_cni":
        own = {"env": dict(settings.get("vpc_cni_env") or {})}
    elif key == "coredns" and settings.get("coredns_fargate"):
        own = {"computeType": "Fargate", "tolerations": [dict(FARGATE_TAINT)]}
    return _merge(own, settings.get(f"{key}_values") or {})


def names(settings: dict) -> list[str]:
    """The add-ons the role converges as EKS managed add-ons (both steps), by their EKS names."""
    return [name for key, (name, _step) in ADDONS.items() if settings.get(key)]


def request(settings: dict, step: str) -> list[dict]:
    """The ``addons`` option of the eks_addon task of STEP (empty: the step has nothing to do)."""
    out = []
    for key, (name, addon_step) in ADDONS.items():
        if addon_step != step or not settings.get(key):
            continue
        item = {"name": name, "configuration_values": values(settings, key)}
        if settings.get(f"{key}_version"):
            item["version"] = settings[f"{key}_version"]
        if key == "ebs_csi_driver" and settings.get("ebs_csi_driver_role_arn"):
            item.update(ebs_csi_identity(settings))
        out.append(item)
    for entry in settings.get("remove") or []:
        if isinstance(entry, dict) and _step_of(entry.get("name")) == step:
            out.append({"name": entry["name"], "state": "absent", "preserve": entry.get("preserve", True) is not False})
    return out


def ebs_csi_identity(settings: dict) -> dict:
    """How the EBS CSI add-on gets its role: IRSA (the add-on's serviceAccountRoleArn) or EKS Pod Identity (the add-on's
    own podIdentityAssociations, as EKS requires for an add-on's service account; no serviceAccountRoleArn is sent)."""
    role = settings["ebs_csi_driver_role_arn"]
    if settings.get("ebs_csi_driver_identity") == "pod_identity":
        return {"pod_identity_associations": [{"service_account": EBS_CSI_SERVICE_ACCOUNT, "role_arn": role}]}
    return {"service_account_role_arn": role}


def errors(settings: dict) -> list[str]:
    """Every broken variable at once, each named."""
    problems = []
    for key in ADDONS:
        if not isinstance(settings.get(f"{key}_values") or {}, dict):
            problems.append(f"addons_{key}_values must be a mapping of the add-on's configuration values, "
                            f"not {settings.get(f'{key}_values')!r}")
    if "env" in (settings.get("vpc_cni_values") or {}):
        problems.append("addons_vpc_cni_values.env: the aws-node environment comes from the vpc_cni role's settings "
                        "(vpc_cni_prefix_delegation, vpc_cni_warm_*_target, vpc_cni_extra_env); set it there")
    enabled = {name: key for key, (name, _step) in ADDONS.items() if settings.get(key)}
    for index, entry in enumerate(settings.get("remove") or []):
        field = f"addons_remove[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            problems.append(f"{field}.name: each entry needs the add-on's name, got {entry!r}")
            continue
        name = entry["name"]
        if name in enabled:
            problems.append(f"{field}.name: {name} is also converged by this role (addons_{enabled[name]} is true); "
                            f"set addons_{enabled[name]} false to remove it")
        if name in CRITICAL and entry.get("preserve", True) is False and not settings.get("allow_critical_removal"):
            problems.append(f"{field}.preserve: deleting the {name} add-on's workload takes {CRITICAL[name]} away from "
                            "the cluster; set addons_allow_critical_removal true to do it, or keep preserve true "
                            "(EKS stops managing it, the workload keeps running)")
    return problems
