#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_health
short_description: Report a Kubernetes cluster's control-plane health and upgrade readiness
version_added: 0.1.0
description:
  - Reads the API server's C(/metrics), C(/version), nodes, admission webhook configurations,
    PodDisruptionBudgets, Deployments and DaemonSets, and returns structured facts and a list of
    findings, each with a severity (C(info), C(warning), C(critical)).
  - "Checks: API request error ratio (5xx and 429) by verb and resource; database size against a limit;
    deprecated APIs requested since the API server started; admission webhooks that catch every resource
    with C(failurePolicy: Fail) (and whether they exclude kube-system); kubelet to control-plane version skew;
    add-on images (cluster-autoscaler, kube-proxy) whose minor differs from the cluster's;
    PodDisruptionBudgets that allow zero disruptions; with O(addons), EKS managed add-ons whose version is not
    compatible with the target minor; where Karpenter is installed, why it does not provision, in its
    own words: EC2NodeClasses that are NotReady (each failing condition's reason and message, such as C(SubnetsNotFound)),
    and NodePools with pending pods Karpenter cannot place (its C(FailedScheduling) message), its warnings on the
    NodePool (such as C(NoCompatibleInstanceTypes)) and the failing conditions of the NodePool and its NodeClaims."
  - Read-only; safe in check mode. It never fails because of a finding; the
    M(nodeless.eks.cluster_health) role turns findings into a gate.
  - Counters in C(/metrics) are per API server since it started; on EKS each request is answered by
    one of several API servers, so run the module a few times for a fuller picture.
author:
  - nodeless.eks contributors (@nodeless)
options:
  error_ratio_warning:
    description: Error ratio (5xx and 429 over all requests) of one verb and resource from which a warning is reported.
    type: float
    default: 0.01
  error_ratio_critical:
    description: Error ratio from which the finding is critical.
    type: float
    default: 0.05
  min_requests:
    description: Ignore verb and resource pairs with fewer requests than this (too few to judge).
    type: int
    default: 100
  storage_limit_bytes:
    description: Database size limit; EKS etcd allows 8 GiB.
    type: int
    default: 8589934592
  storage_warning_ratio:
    description: Share of O(storage_limit_bytes) from which a warning is reported.
    type: float
    default: 0.5
  storage_critical_ratio:
    description: Share of O(storage_limit_bytes) from which the finding is critical.
    type: float
    default: 0.8
  target_version:
    description:
      - Kubernetes minor the cluster is to be upgraded to, such as C(1.36). Deprecated APIs removed in or
        before it are critical.
      - Defaults to the minor after the control plane's.
    type: str
  addon_images:
    description: Image repository names (last path part) whose minor must equal the cluster's.
    type: list
    elements: str
    default: [cluster-autoscaler, kube-proxy]
  addons:
    description:
      - The cluster's EKS managed add-ons as M(nodeless.eks.eks_addon_info) returns them when read with
        its option C(kubernetes_versions) set to the cluster's minor and the target minor (C(name), C(version)
        and C(compatible_versions) are read).
      - Each installed version is compared with the versions EKS lists for the target minor. Not compatible, while
        a version compatible with both minors exists, is critical (update the add-on before the control plane
        upgrade); no version runs on both minors (kube-proxy, released per minor) is info (update it right after);
        no version listed for the target at all is a warning.
      - When omitted, add-on versions are not checked (the module makes no AWS call; the M(nodeless.eks.cluster_health)
        role reads them).
    type: list
    elements: dict
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
  - prometheus_client >= 0.20.0
"""

EXAMPLES = r"""
- name: Check the cluster before an upgrade to 1.36
  nodeless.eks.cluster_health:
    target_version: "1.36"
  register: health

- name: Stop when anything critical was found
  ansible.builtin.assert:
    that: health.summary.critical == 0
    fail_msg: "{{ health.findings | selectattr('severity', 'eq', 'critical') | map(attribute='message') | list }}"
"""

RETURN = r"""
findings:
  description: What needs attention, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    check: {description: The check that found it., type: str, returned: always, sample: admission_webhooks}
    severity: {description: "One of info, warning, critical.", type: str, returned: always, sample: critical}
    subject: {description: What it is about., type: str, returned: always, sample: "ValidatingWebhookConfiguration/policy validate.example.com"}
    message: {description: What is wrong and what to do., type: str, returned: always}
    detail: {description: The figures behind the finding., type: dict, returned: always}
summary:
  description: Number of findings per severity.
  returned: always
  type: dict
  sample: {info: 0, warning: 1, critical: 0}
health:
  description: The facts each check computed.
  returned: always
  type: dict
  contains:
    server_version: {description: API server git version., type: str, returned: always, sample: v1.35.4}
    target_version: {description: Upgrade target the deprecated API check used., type: str, returned: always, sample: "1.36"}
    request_errors: {description: Totals and the worst verb and resource pairs., type: dict, returned: always}
    storage: {description: "Database size, limit and ratio (size null when not exposed).", type: dict, returned: always}
    deprecated_apis: {description: Deprecated APIs requested since the API server started., type: list, elements: dict, returned: always}
    admission_webhooks: {description: Catch-all webhooks that fail closed., type: list, elements: dict, returned: always}
    version_skew: {description: Control-plane version and node count per kubelet version., type: dict, returned: always}
    addon_images: {description: Add-on containers checked against the cluster minor., type: list, elements: dict, returned: always}
    disruption_budgets: {description: PodDisruptionBudgets that allow zero disruptions., type: list, elements: dict, returned: always}
    addon_versions:
      description:
        - "One entry per add-on of O(addons): name, version, cluster_version, target_version, target_versions, target_default,
          action (none, update_before_upgrade, update_after_upgrade, no_version), update_to and status (one line)."
      type: list
      elements: dict
      returned: always
      sample:
        - name: vpc-cni
          version: v1.20.4-eksbuild.1
          cluster_version: "1.35"
          target_version: "1.36"
          target_versions: [v1.21.1-eksbuild.1]
          target_default: v1.21.1-eksbuild.1
          action: update_before_upgrade
          update_to: v1.21.1-eksbuild.1
          status: update to v1.21.1-eksbuild.1 before the upgrade
    karpenter:
      description:
        - "C(installed): whether the Karpenter CRDs are served; C(node_classes): each EC2NodeClass's Ready status (null before
          Karpenter reconciled it) and failing conditions; C(node_pools): each NodePool's Ready status, failing conditions,
          NodeClaims, failing NodeClaims, pending pods Karpenter cannot place and its latest warning event."
      type: dict
      returned: always
changes:
  description: Always empty; the module only reads.
  returned: always
  type: list
  elements: dict
  sample: []
diff:
  description: Always equal before and after; the module only reads.
  returned: always
  type: dict
"""

import copy

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.nodeless.eks.plugins.module_utils.health import DEFAULT_ADDON_IMAGES, HAS_PROMETHEUS_CLIENT, assess, validate_thresholds
from ansible_collections.nodeless.eks.plugins.module_utils.provisioning import merge as merge_karpenter

# (api_version, kind, what the error message calls it)
_LISTS = (
    ("v1", "Node", "nodes"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validating webhook configurations"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutating webhook configurations"),
    ("policy/v1", "PodDisruptionBudget", "PodDisruptionBudgets"),
    ("apps/v1", "Deployment", "Deployments"),
    ("apps/v1", "DaemonSet", "DaemonSets"),
)
# Karpenter's kinds, read where its CRDs are served: (api_version, kind, key in the inputs)
_KARPENTER = (
    ("karpenter.k8s.aws/v1", "EC2NodeClass", "ec2nodeclasses"),
    ("karpenter.sh/v1", "NodePool", "nodepools"),
    ("karpenter.sh/v1", "NodeClaim", "nodeclaims"),
)


def argument_spec() -> dict:
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        error_ratio_warning=dict(type="float", default=0.01),
        error_ratio_critical=dict(type="float", default=0.05),
        min_requests=dict(type="int", default=100),
        storage_limit_bytes=dict(type="int", default=8 * 1024 ** 3),
        storage_warning_ratio=dict(type="float", default=0.5),
        storage_critical_ratio=dict(type="float", default=0.8),
        target_version=dict(type="str"),
        addon_images=dict(type="list", elements="str", default=list(DEFAULT_ADDON_IMAGES)),
        addons=dict(type="list", elements="dict"),
    )
    return spec


def _raw_get(api_client, path: str) -> str:
    """GET a non-resource path (/metrics) as text; kubernetes >= 31 split call_api into param_serialize + call_api."""
    if hasattr(api_client, "param_serialize"):
        args = api_client.param_serialize("GET", path, header_params={"Accept": "text/plain"}, auth_settings=["BearerToken"])
        response = api_client.call_api(*args)
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return response.data.decode("utf-8", errors="replace")
    response = api_client.call_api(path, "GET", header_params={"Accept": "text/plain"}, auth_settings=["BearerToken"],
                                   _preload_content=False, _return_http_data_only=True)
    return response.data.decode("utf-8", errors="replace")


def read_inputs(k8s) -> dict:
    """One read of each kind (lists are cluster-wide), then everything else is computed locally."""
    step = "the API server version"
    try:
        inputs = {"server_version": k8s.client.version["kubernetes"]["gitVersion"]}
        step = "/metrics"
        inputs["metrics_text"] = _raw_get(k8s.client.client, "/metrics")
        items = {}
        for api_version, kind, what in _LISTS:
            step = what
            items[kind] = k8s.resource(kind, api_version).get().to_dict().get("items", [])
        step = "namespace kube-system"
        kube_system = k8s.resource("Namespace", "v1").get(name="kube-system").to_dict()
        step = "Karpenter's EC2NodeClasses, NodePools, NodeClaims, pending pods and warning events"
        inputs.update(_karpenter_inputs(k8s))
    except Exception as exc:  # pylint: disable=broad-except
        raise RuntimeError(f"reading {step} from the API server failed: {exc}") from exc
    inputs.update(
        nodes=items["Node"], pdbs=items["PodDisruptionBudget"],
        webhook_configurations=items["ValidatingWebhookConfiguration"] + items["MutatingWebhookConfiguration"],
        workloads=items["Deployment"] + items["DaemonSet"],
        kube_system_labels=(kube_system.get("metadata") or {}).get("labels") or {},
    )
    return inputs


def _karpenter_inputs(k8s) -> dict:
    """Karpenter's objects, pending pods and warning events; only ``karpenter_installed: False`` without its CRDs."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    out = {"karpenter_installed": True}
    for api_version, kind, key in _KARPENTER:
        try:
            out[key] = k8s.resource(kind, api_version).get().to_dict().get("items", [])
        except ResourceNotFoundError:
            return {"karpenter_installed": False}
    out["pending_pods"] = k8s.resource("Pod", "v1").get(field_selector="status.phase=Pending").to_dict().get("items", [])
    out["warning_events"] = k8s.resource("Event", "v1").get(field_selector="type=Warning").to_dict().get("items", [])
    return out


def main():
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib("prometheus_client"))
    errors = validate_thresholds(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

    try:
        inputs = read_inputs(get_api_client(module=module))
        result = merge_karpenter(assess(inputs, module.params), inputs)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, changes=[], diff={"before": {}, "after": {}}, **result)


if __name__ == "__main__":
    main()
