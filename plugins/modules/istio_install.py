#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: istio_install
short_description: Install or upgrade the Istio control plane with istioctl, only when something differs
version_added: 0.1.0
description:
  - Istio has no API for installs, so this module runs C(istioctl install) with the given C(IstioOperator)
    settings. It runs it only when istiod is missing, runs another version than O(version), or the settings
    differ from those it recorded at the last install (ConfigMap C(nodeless-istio[-<revision>]) in
    O(namespace)). A second run with the same input reads two objects and writes nothing.
  - Check mode reads the same two objects and predicts the install, upgrade or settings change, with the
    same RV(changes) the real run reports; it runs no istioctl.
  - istioctl is given the kubeconfig and context (O(kubeconfig), O(context), else E(K8S_AUTH_KUBECONFIG) and
    E(K8S_AUTH_CONTEXT)); the module's own reads and the record write use every connection option below.
  - The settings file handed to istioctl is written mode 0600 in a private temporary directory and removed
    afterwards.
author:
  - nodeless.eks contributors (@nodeless)
options:
  version:
    description:
      - Istio release to install, e.g. C(1.30.3). istioctl at O(istioctl) must be this version (the
        C(nodeless.eks.istio) role checks that before anything is changed).
    type: str
    required: true
  operator:
    description:
      - The C(IstioOperator) manifest (C(apiVersion), C(kind), C(metadata), C(spec)) handed to C(istioctl install --filename).
    type: dict
    required: true
  namespace:
    description: Namespace of the control plane and of the install record.
    type: str
    default: istio-system
  revision:
    description: Control plane revision; istiod is then C(istiod-<revision>) and the record C(nodeless-istio-<revision>).
    type: str
    default: ""
  istioctl:
    description: istioctl to run, a path or a name found on E(PATH).
    type: str
    default: istioctl
  readiness_timeout:
    description: Seconds istioctl waits for the control plane to be ready.
    type: int
    default: 300
  field_manager:
    description: Field manager of the server-side apply that writes the install record.
    type: str
    default: nodeless.eks.istio
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
notes:
  - The record holds the settings only; removing Istio (C(istioctl uninstall --purge)) is left to a person.
seealso:
  - module: nodeless.eks.istio_mtls_policy
  - name: istioctl install
    description: The command this module runs.
    link: https://istio.io/latest/docs/reference/commands/istioctl/#istioctl-install
"""

EXAMPLES = r"""
- name: Install Istio 1.30.3 with the default profile, or upgrade to it
  nodeless.eks.istio_install:
    version: 1.30.3
    operator:
      apiVersion: install.istio.io/v1alpha1
      kind: IstioOperator
      metadata:
        name: nodeless-istio
        namespace: istio-system
      spec:
        profile: default
        tag: 1.30.3
        meshConfig:
          accessLogFile: /dev/stdout
  register: istio

- name: Say what was done
  ansible.builtin.debug:
    msg: "{{ istio.reason }}"
"""

RETURN = r"""
changes:
  description: One entry per resource added or changed (the control plane as its IstioOperator, and the install record).
  returned: always
  type: list
  elements: dict
  sample: [{"resource": "k8s:IstioOperator/istio-system/nodeless-istio", "action": "add", "detail": "install Istio 1.30.3"},
           {"resource": "k8s:ConfigMap/istio-system/nodeless-istio", "action": "add"}]
reason:
  description: Why istioctl ran (or would run), or why it was not needed.
  returned: always
  type: str
  sample: upgrade Istio 1.29.2 to 1.30.3
installed_version:
  description: The version istiod ran before this task (empty when there was none).
  returned: always
  type: str
  sample: 1.29.2
diff:
  description: Version and install settings before and after.
  returned: always
  type: dict
  sample: {"before": {"version": "", "operator": null}, "after": {"version": "1.30.3", "operator": {"kind": "IstioOperator"}}}
stdout:
  description: What istioctl printed (empty when it did not run).
  returned: always
  type: str
"""

import os
import shutil
import tempfile

from ansible.module_utils.common.yaml import yaml_dump
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.istio_install import decide, istioctl_argv, names, recorded_operator
from ansible_collections.nodeless.eks.plugins.module_utils.istio_install import record_configmap
from ansible_collections.nodeless.eks.plugins.module_utils.k8s import K8sError, apply


def argument_spec() -> dict:
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        version=dict(type="str", required=True),
        operator=dict(type="dict", required=True),
        namespace=dict(type="str", default="istio-system"),
        revision=dict(type="str", default=""),
        istioctl=dict(type="str", default="istioctl"),
        readiness_timeout=dict(type="int", default=300),
        field_manager=dict(type="str", default="nodeless.eks.istio"),
    )
    return spec


def validate(params: dict) -> list[str]:
    errors = []
    operator = params["operator"]
    if operator.get("kind") != "IstioOperator" or not isinstance(operator.get("spec"), dict):
        errors.append("operator: must be an IstioOperator manifest with kind IstioOperator and a spec mapping")
    tag = (operator.get("spec") or {}).get("tag") if isinstance(operator.get("spec"), dict) else None
    if tag is not None and str(tag) != params["version"]:
        errors.append(f"operator.spec.tag: {tag} differs from version {params['version']}")
    if params["readiness_timeout"] <= 0:
        errors.append("readiness_timeout: must be a positive number of seconds")
    return errors


def _read(client, kind: str, name: str, namespace: str) -> dict | None:
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        return client.get(client.resource(kind, "apps/v1" if kind == "Deployment" else "v1"), name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def _kubeconfig_path(module, scratch: str) -> str | None:
    """A kubeconfig istioctl can read: the given path, or the given dict written 0600 to scratch."""
    kubeconfig = module.params.get("kubeconfig") or os.environ.get("K8S_AUTH_KUBECONFIG")
    if isinstance(kubeconfig, dict):
        path = os.path.join(scratch, "kubeconfig")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(yaml_dump(kubeconfig))
        return path
    return kubeconfig or None


def run_istioctl(module) -> str:
    params = module.params
    istioctl = shutil.which(params["istioctl"]) or params["istioctl"]
    if not os.access(istioctl, os.X_OK):
        module.fail_json(msg=f"istioctl: {params['istioctl']} is not an executable file nor found on PATH")
    scratch = tempfile.mkdtemp(prefix="nodeless-istio-")  # mode 0700
    try:
        operator_file = os.path.join(scratch, "istio-operator.yml")
        with os.fdopen(os.open(operator_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(yaml_dump(params["operator"], default_flow_style=False))
        context = params.get("context") or os.environ.get("K8S_AUTH_CONTEXT")
        argv = istioctl_argv(istioctl, operator_file, params["readiness_timeout"], _kubeconfig_path(module, scratch), context)
        rc, out, err = module._module.run_command(argv)  # AnsibleK8SModule wraps AnsibleModule without run_command
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if rc:
        module.fail_json(msg=f"istioctl install failed (exit {rc}): {(err or out).strip()[-2000:]}", stdout=out, stderr=err)
    return out


def ensure(module, client) -> dict:
    params = module.params
    named = names(params["revision"])
    namespace = params["namespace"]
    deployment = _read(client, "Deployment", named["istiod"], namespace)
    record = _read(client, "ConfigMap", named["record"], namespace)
    decision = decide(deployment, record, params["version"], params["operator"])
    result = {"changed": False, "changes": [], "reason": decision["reason"], "installed_version": decision["from_version"],
              "stdout": "", "diff": {"before": {"version": decision["from_version"], "operator": recorded_operator(record)},
                                     "after": {"version": decision["from_version"], "operator": recorded_operator(record)}}}
    if decision["action"] is None:
        return result
    desired_record = record_configmap(named["record"], namespace, params["version"], params["operator"])
    if not module.check_mode:
        result["stdout"] = run_istioctl(module)
        apply(client.client, desired_record, params["field_manager"], dry_run=False)  # the DynamicClient under K8SClient
    result.update(
        changed=True,
        changes=[change("k8s", "IstioOperator", named["record"], decision["action"], namespace=namespace, detail=decision["reason"]),
                 change("k8s", "ConfigMap", named["record"], "change" if record else "add", namespace=namespace)],
    )
    result["diff"]["after"] = {"version": params["version"], "operator": params["operator"]}
    return result


def main():
    module = AnsibleK8SModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = validate(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    try:
        result = ensure(module, get_api_client(module))
    except K8sError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=f"Istio install failed: {getattr(exc, 'body', None) or exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
