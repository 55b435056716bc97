"""The run's raw inputs (issue #23): what moves the digest the run's gate compares, and what must not."""
from __future__ import annotations

import os

from ansible_collections.nodeless.eks.plugins.plugin_utils import run_inputs as RI

CLUSTER = {"name": "lab", "status": "ACTIVE", "version": "1.35",
           "nodegroups": [{"name": "ng", "scaling": {"minSize": 1, "maxSize": 5, "desiredSize": 2}}]}


class Templar:
    """Resolves "{{ name }}" against VARS, as the play would; anything else is returned as it is."""

    def __init__(self, variables):
        self.variables = variables

    def template(self, value):
        if isinstance(value, str) and value.startswith("{{ ") and value.endswith(" }}"):
            return self.variables[value[3:-3]]  # KeyError: does not resolve at play level
        return value


def _digest(variables, root=RI.COLLECTION_ROOT):
    return RI.inputs_digest(variables, Templar(variables), root)


def _base():
    return {"nodeless_eks_cluster": CLUSTER, "karpenter_replicas": 2, "inventory_hostname": "lab", "groups": {}}


def test_a_role_variable_the_cluster_facts_and_the_code_move_it(tmp_path):
    base = _digest(_base())
    assert _digest(_base()) == base
    assert _digest(dict(_base(), karpenter_replicas=3)) != base
    assert _digest(dict(_base(), istio_revision="1-30")) != base  # a variable set only now counts too
    assert _digest(dict(_base(), nodeless_eks_cluster=dict(CLUSTER, version="1.36"))) != base
    root = tmp_path / "collection"
    (root / "roles" / "karpenter" / "defaults").mkdir(parents=True)
    (root / "roles" / "karpenter" / "defaults" / "main.yml").write_text("karpenter_replicas: 2\n")
    first = _digest(_base(), root)
    (root / "roles" / "karpenter" / "defaults" / "main.yml").write_text("karpenter_replicas: 3\n")
    assert _digest(_base(), root) != first


def test_what_moves_by_itself_and_the_gate_own_facts_do_not():
    base = _digest(_base())
    scaled = dict(CLUSTER, status="UPDATING", nodegroups=[dict(CLUSTER["nodegroups"][0], scaling={"minSize": 1, "maxSize": 5, "desiredSize": 4})])
    assert _digest(dict(_base(), nodeless_eks_cluster=scaled)) == base
    assert _digest(dict(_base(), nodeless_eks_record_irsa={"at": 1.0}, nodeless_eks_full_check=True)) == base
    assert _digest(dict(_base(), ansible_check_mode=True, _karpenter_private="x", unrelated_var=1)) == base
    # Which capabilities run is the run record's to answer (an entry per recorded capability), not the digest's.
    assert _digest(dict(_base(), nodeless_eks_capabilities=["identity", "cluster_health"])) == base
    # The roles site.yml runs every time.
    assert _digest(dict(_base(), access_aws_auth_roles=[])) == base


def test_a_file_the_roles_write_counts_by_its_name_not_its_bytes(tmp_path):
    """kubeconfig_path: the kubeconfig's own record covers the file (a renewed token must not change the run's inputs)."""
    written = tmp_path / "view.kubeconfig"
    written.write_text("token: a\n")
    base = _digest(dict(_base(), kubeconfig_path=str(written)))
    assert base != _digest(_base())
    written.write_text("token: b\n")
    assert _digest(dict(_base(), kubeconfig_path=str(written))) == base
    assert _digest(dict(_base(), kubeconfig_path=str(tmp_path / "other.kubeconfig"))) != base
    assert _digest(dict(_base(), kubeconfig_path=str(written), kubeconfig_service_account="ci")) != base


def test_a_template_is_digested_as_resolved_and_one_that_does_not_resolve_as_written():
    resolved = dict(_base(), my_replicas=3, karpenter_replicas="{{ my_replicas }}")
    assert _digest(resolved) == _digest(dict(_base(), karpenter_replicas=3))
    unresolved = dict(_base(), karpenter_replicas="{{ karpenter_default_replicas }}")
    assert _digest(unresolved) != _digest(dict(_base(), karpenter_replicas="{{ karpenter_other }}"))


def test_a_local_tree_a_variable_names_counts_by_its_files_bytes(tmp_path):
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("version: 1.14.1\n")
    variables = dict(_base(), karpenter_chart_ref=str(chart))
    before = _digest(variables)
    assert _digest(variables) == before
    (chart / "Chart.yaml").write_text("version: 1.14.1\n")  # written again, the same bytes
    os.utime(chart / "Chart.yaml", ns=(1, 2))
    assert _digest(variables) == before
    (chart / "templates" / "deployment.yaml").write_text("kind: Deployment\n")
    assert _digest(variables) != before
    stamp = RI.path_stamp(str(chart))
    assert [entry[0] for entry in stamp] == ["Chart.yaml", os.path.join("templates", "deployment.yaml")]
    assert RI.path_stamp(str(tmp_path / "missing")) is None


def test_a_tool_on_the_path_counts_by_its_file(tmp_path, monkeypatch):
    tool = tmp_path / "istioctl"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    variables = dict(_base(), nodeless_eks_environment={"PATH": str(tmp_path)})
    before = _digest(variables)
    tool.write_text("#!/bin/sh\necho 1.30\n")
    assert _digest(variables) != before
    monkeypatch.setattr(RI, "CONTENT_LIMIT", 4)  # a big binary: its size and time
    big = _digest(variables)
    os.utime(tool, ns=(1, 2))
    assert _digest(variables) != big
