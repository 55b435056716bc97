"""The shipped policy documents: every one renders, names its upstream, and fits IAM's quotas once split."""
import pytest
import yaml

from ansible_collections.nodeless.eks.plugins.plugin_utils import iam_policy_files as iam_policy
from ansible_collections.nodeless.eks.plugins.module_utils import iam_policy_documents as documents

CLUSTER = {"name": "production-eu-west-1-primary", "partition": "aws", "account_id": "111122223333", "region": "eu-west-1"}
NAMES = ["aws_load_balancer_controller", "cluster_autoscaler", "efs_csi_driver", "external_dns", "karpenter_controller"]


def test_the_interface_names_are_all_shipped():
    assert iam_policy.available() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_policy_file_names_its_upstream_and_justifies_differences(name):
    text = (iam_policy.POLICY_DIR / f"{name}.yml").read_text()
    data = yaml.safe_load(text)
    assert text.startswith("# IAM policy for")
    assert "Tracks:" in text and "Differences from upstream" in text
    assert data["upstream"]["version"] in text.split("---")[0]


@pytest.mark.parametrize("name", NAMES)
def test_each_policy_renders_completely_and_fits_after_split(name):
    values = documents.policy_values(CLUSTER, {"hosted_zone_ids": ["Z0123456789ABC"]})
    doc = documents.render_document(iam_policy.load(name)["document"], values)
    assert "${" not in str(doc)
    parts = documents.split_document(doc)
    assert all(documents.document_size(p) <= documents.MANAGED_POLICY_LIMIT for p in parts)
    assert documents.grants(doc) == set().union(*(documents.grants(p) for p in parts))


def test_cluster_autoscaler_writes_only_owned_groups_of_this_cluster():
    doc = documents.render_document(iam_policy.load("cluster_autoscaler")["document"], documents.policy_values(CLUSTER))
    writes = [s for s in doc["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert writes[0]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/production-eu-west-1-primary": "owned"}}


def test_external_dns_writes_only_the_given_zones():
    doc = documents.render_document(iam_policy.load("external_dns")["document"],
                                    documents.policy_values(CLUSTER, {"hosted_zone_ids": ["/hostedzone/ZA", "ZB"]}))
    change = [s for s in doc["Statement"] if "route53:ChangeResourceRecordSets" in s["Action"]][0]
    assert change["Resource"] == ["arn:aws:route53:::hostedzone/ZA", "arn:aws:route53:::hostedzone/ZB"]


def test_karpenter_passes_only_the_node_role():
    doc = documents.render_document(iam_policy.load("karpenter_controller")["document"],
                                    documents.policy_values(CLUSTER, {"node_role_name": "nodes"}))
    passrole = [s for s in doc["Statement"] if s["Action"] == "iam:PassRole"][0]
    assert passrole["Resource"] == "arn:aws:iam::111122223333:role/nodes"


def test_unknown_policy_lists_the_known_ones():
    from ansible.errors import AnsibleLookupError

    with pytest.raises(AnsibleLookupError, match="known: aws_load_balancer_controller"):
        iam_policy.load("nope")
