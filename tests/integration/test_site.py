"""site.yml as users run it: many clusters in one run, and the inventory mistakes it refuses."""
from __future__ import annotations

import io

import boto3
import pytest
import yaml

from nodeless_lab import lab as lab_module
from support import labenv, playbook
from support.snapshots import untouched

pytestmark = pytest.mark.lab
SITE = str(labenv.REPO / "playbooks" / "site.yml")


def _inventory(tmp_path, hosts: dict) -> str:
    path = tmp_path / "hosts.yml"
    base = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    path.write_text(yaml.safe_dump({"all": {"hosts": {h: dict(base, **v) for h, v in hosts.items()}}}))
    return str(path)


def _lab_host(state: dict, **extra) -> dict:
    env = lab_module.env(state)
    return dict({"nodeless_eks_cluster_name": state["cluster_name"], "nodeless_eks_region": state["region"],
                 "nodeless_eks_environment": {k: env[k] for k in ("AWS_ENDPOINT_URL", "K8S_AUTH_KUBECONFIG", "KUBECONFIG")},
                 "nodeless_eks_capabilities": ["identity", "tagging"]}, **extra)


def _oidc_urls(state: dict) -> set:
    iam = boto3.client("iam", endpoint_url=state["aws_endpoint"], region_name=state["region"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return {iam.get_open_id_connect_provider(OpenIDConnectProviderArn=p["Arn"])["Url"]
            for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}


def test_two_clusters_converge_in_one_run_without_cross_talk(lab, tmp_path):
    second_dir = tmp_path / "second-lab"
    second = lab_module.up(second_dir, out=io.StringIO(), build=False)
    try:
        inventory = _inventory(tmp_path, {"first": _lab_host(lab), "second": _lab_host(second)})
        result = playbook.run(SITE, inventory=inventory, extravars={"ansible_forks": 2})
        assert result.rc == 0, result.failure_text() or result.stdout[-3000:]
        assert result.stats["first"]["failures"] == 0 and result.stats["second"]["failures"] == 0
        first_issuer, second_issuer = lab["issuer"][len("https://"):], second["issuer"][len("https://"):]
        assert first_issuer in _oidc_urls(lab) and second_issuer not in _oidc_urls(lab)
        assert _oidc_urls(second) == {second_issuer}
        again = playbook.run(SITE, inventory=inventory)
        assert again.rc == 0 and again.total_changed() == 0, again.changed()
    finally:
        lab_module.down(second_dir, out=io.StringIO())


def test_host_without_cluster_name_is_refused(lab, tmp_path):
    inventory = _inventory(tmp_path, {"nameless": {"nodeless_eks_region": "us-west-2"}})
    with untouched():
        result = playbook.run(SITE, inventory=inventory, env_extra={"NODELESS_EKS_CLUSTER_NAME": ""})
    assert result.rc != 0
    assert "nodeless_eks_cluster_name" in result.failure_text()


def test_two_hosts_one_cluster_different_settings_are_refused(lab, tmp_path):
    inventory = _inventory(tmp_path, {"a": _lab_host(lab, istio_mtls_mode="STRICT"),
                                      "b": _lab_host(lab, istio_mtls_mode="PERMISSIVE")})
    with untouched():
        result = playbook.run(SITE, inventory=inventory)
    assert result.rc != 0
    assert "hosts a and b both manage cluster lab in us-west-2 with different settings: istio_mtls_mode" in result.failure_text()


def test_unknown_capability_tag_is_refused_with_the_list(lab, tmp_path):
    inventory = _inventory(tmp_path, {"lab": _lab_host(lab)})
    with untouched():
        result = playbook.run(SITE, inventory=inventory, tags="istoi")
    assert result.rc != 0
    text = result.failure_text()
    assert "Unknown tag(s) istoi" in text and "identity, tagging, addons, vpc_cni" in text
