import pytest

from ansible_collections.nodeless.eks.plugins.module_utils import tags as T

WORKERS = {"name": "workers", "asg_names": ["eks-workers-1"], "instance_types": ["m5.large", "m5.xlarge"],
           "labels": {"role": "workers", "example.com/team": "ml"}, "capacity_type": "SPOT",
           "taints": [{"key": "dedicated", "value": "workers", "effect": "NO_SCHEDULE"},
                      {"key": "gpu", "effect": "NO_EXECUTE"}]}
RESOURCES = {"m5.large": {"cpu": 2, "memory_mib": 8192}, "m5.xlarge": {"cpu": 4, "memory_mib": 16384}}
NT = T.NODE_TEMPLATE


@pytest.mark.parametrize("key", ["role", "example.com/team", "a", "kubernetes.io/os", "a_b.c-d", "x" * 63])
def test_valid_label_keys(key):
    assert T.label_key_error(key) is None


@pytest.mark.parametrize("key", ["bad key!", "", "/x", "Example.com/x", "-a", "a-", "x" * 64, "a/b/c", "a" * 254 + "/x"])
def test_invalid_label_keys_say_why(key):
    assert T.label_key_error(key)


def test_label_values():
    assert T.label_value_error("") is None
    assert T.label_value_error("general") is None
    assert T.label_value_error("has space")
    assert T.label_value_error("v" * 64)


def test_node_template_tags_from_labels_taints_and_smallest_instance():
    tags, errors = T.node_template_tags(WORKERS, RESOURCES)
    assert errors == []
    assert tags == {
        NT + "label/role": "workers",
        NT + "label/example.com/team": "ml",
        NT + "label/eks.amazonaws.com/nodegroup": "workers",
        NT + "label/eks.amazonaws.com/capacityType": "SPOT",
        NT + "taint/dedicated": "workers:NoSchedule",
        NT + "taint/gpu": ":NoExecute",
        NT + "resources/cpu": "2",
        NT + "resources/memory": "8192Mi",
    }


def test_node_template_without_known_instance_types_has_no_resources():
    tags = T.node_template_tags(dict(WORKERS, instance_types=["x9.huge"]), RESOURCES)[0]
    assert not [k for k in tags if "/resources/" in k]


def test_node_template_reports_bad_labels_and_taints_by_group():
    group = dict(WORKERS, labels={"bad key!": "x", "ok": "bad value!"}, taints=[{"key": "t", "effect": "SOMETIMES"}])
    tags, errors = T.node_template_tags(group, RESOURCES)
    assert any("nodegroups[workers].labels: key 'bad key!'" in e for e in errors)
    assert any("nodegroups[workers].labels.ok" in e for e in errors)
    assert any("nodegroups[workers].taints" in e for e in errors)
    assert NT + "label/bad key!" not in tags


def test_instance_resources_from_describe_instance_types():
    described = [{"InstanceType": "m5.large", "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 8192}}]
    assert T.instance_resources(described) == {"m5.large": {"cpu": 2, "memory_mib": 8192}}


def test_tag_errors_name_field_and_limits():
    errors = T.tag_errors({"k" * 129: "v", "ok": "v" * 257, "fine": "v" * 256}, "tags")
    assert len(errors) == 2
    assert all(e.startswith("tags: ") for e in errors)
    assert "129 characters" in errors[0] and "257 characters" in errors[1]


def test_count_errors_counts_after_the_change():
    current = {"a": {f"k{i}": "v" for i in range(49)}}
    assert T.count_errors(current, {"a": {"set": {"new": "1"}, "delete": []}}, "tags") == []
    errors = T.count_errors(current, {"a": {"set": {"n1": "1", "n2": "2"}, "delete": []}}, "tags")
    assert errors == ["tags: a would carry 51 tags; AWS allows at most 50"]
    assert T.count_errors(current, {"a": {"set": {"n1": "1", "n2": "2"}, "delete": ["k0"]}}, "tags") == []


def test_autoscaler_keys_are_scoped_to_the_cluster():
    assert T.autoscaler_tags("prod") == {"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/prod": "owned"}
    assert T.is_autoscaler_key("k8s.io/cluster-autoscaler/prod", "prod")
    assert T.is_autoscaler_key(NT + "label/x", "prod")
    assert not T.is_autoscaler_key("k8s.io/cluster-autoscaler/other", "prod")
    assert not T.is_autoscaler_key("team", "prod")


def _asg(**tags):
    return {k: {"value": v, "propagate": False} for k, v in tags.items()}


def test_asg_plan_sets_missing_and_different_and_purges_only_managed():
    def managed(k):
        return T.is_autoscaler_key(k, "prod")

    current = _asg(**{"team": "a", NT + "label/old": "x", "k8s.io/cluster-autoscaler/prod": "owned",
                      "k8s.io/cluster-autoscaler/enabled": "false"})
    desired = T.autoscaler_tags("prod")
    p = T.asg_plan(current, desired, False, managed, purge=True)
    assert p == {"set": {"k8s.io/cluster-autoscaler/enabled": "true"}, "delete": [NT + "label/old"]}
    assert T.asg_plan(current, desired, False, managed, purge=False)["delete"] == []


def test_asg_plan_rewrites_a_tag_whose_propagation_differs():
    current = {"k8s.io/cluster-autoscaler/enabled": {"value": "true", "propagate": True}}
    p = T.asg_plan(current, {"k8s.io/cluster-autoscaler/enabled": "true"}, False, lambda k: True, True)
    assert p["set"] == {"k8s.io/cluster-autoscaler/enabled": "true"}


def test_asg_requests_span_groups_and_split_at_the_batch_size():
    plans = {f"asg-{i}": {"set": {"a": "1", "b": "2"}, "delete": ["c"]} for i in range(3)}
    creates, deletes = T.asg_requests(plans, propagate=True, size=4)
    assert [len(b) for b in creates] == [4, 2]
    assert [len(b) for b in deletes] == [3]
    assert creates[0][0] == {"ResourceId": "asg-0", "ResourceType": "auto-scaling-group", "Key": "a", "Value": "1",
                             "PropagateAtLaunch": True}
    assert deletes[0][0] == {"ResourceId": "asg-0", "ResourceType": "auto-scaling-group", "Key": "c"}


def test_ec2_requests_one_per_tag_set_across_resources():
    plans = {"subnet-1": {"set": {"a": "1"}, "delete": []}, "subnet-2": {"set": {"a": "1"}, "delete": ["x"]},
             "subnet-3": {"set": {"b": "2"}, "delete": ["x"]}}
    creates, deletes = T.ec2_requests(plans)
    assert creates == [{"Resources": ["subnet-1", "subnet-2"], "Tags": [{"Key": "a", "Value": "1"}]},
                       {"Resources": ["subnet-3"], "Tags": [{"Key": "b", "Value": "2"}]}]
    assert deletes == [{"Resources": ["subnet-2", "subnet-3"], "Tags": [{"Key": "x"}]}]


def test_ec2_requests_split_at_the_resource_limit():
    plans = {f"subnet-{i:04}": {"set": {"a": "1"}, "delete": []} for i in range(2500)}
    creates = T.ec2_requests(plans)[0]
    assert [len(c["Resources"]) for c in creates] == [1000, 1000, 500]


def test_plan_and_pending():
    p = T.plan({"a": "1", "stale": "x"}, {"a": "1", "b": "2"}, remove=["stale", "absent"])
    assert p == {"set": {"b": "2"}, "delete": ["stale"]}
    assert T.pending({"r1": p, "r2": {"set": {}, "delete": []}}) == {"r1": p}


def test_report_lists_each_resource_with_what_changes():
    plans = {"subnet-1": {"set": {"a": "2", "b": "1"}, "delete": ["c"]}}
    changes, diff = T.report("subnet", plans, {"subnet-1": {"a": "1", "c": "x", "keep": "y"}})
    assert changes == [{"resource": "aws:subnet/subnet-1", "action": "change", "detail": "~a=1->2 +b=1 -c"}]
    assert diff == {"before": {"subnet-1": {"a": "1", "c": "x", "keep": "y"}},
                    "after": {"subnet-1": {"a": "2", "b": "1", "keep": "y"}}}


ROUTES_IGW = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"},
              {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]
ROUTES_NAT = [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]


def test_classify_subnets_by_explicit_then_main_route_table():
    tables = [
        {"VpcId": "vpc-1", "Routes": ROUTES_IGW, "Associations": [{"SubnetId": "subnet-pub"}]},
        {"VpcId": "vpc-1", "Routes": ROUTES_NAT, "Associations": [{"SubnetId": "subnet-priv"}]},
        {"VpcId": "vpc-1", "Routes": ROUTES_IGW, "Associations": [{"Main": True}]},
        {"VpcId": "vpc-2", "Routes": [dict(ROUTES_IGW[1], State="blackhole")], "Associations": [{"Main": True}]},
        {"VpcId": "vpc-1", "Routes": [{"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-1"}],
         "Associations": [{"SubnetId": "subnet-v6"}]},
    ]
    subnets = [{"SubnetId": s, "VpcId": v} for s, v in
               [("subnet-pub", "vpc-1"), ("subnet-priv", "vpc-1"), ("subnet-main", "vpc-1"), ("subnet-dead", "vpc-2"),
                ("subnet-v6", "vpc-1"), ("subnet-none", "vpc-3")]]
    assert T.classify_subnets(subnets, tables) == {"subnet-pub": "public", "subnet-priv": "private", "subnet-main": "public",
                                                   "subnet-dead": "private", "subnet-v6": "public", "subnet-none": "private"}


def test_subnet_tags_and_stale_role_tags():
    assert T.subnet_tags("public", "prod", "shared", True, True) == {"kubernetes.io/cluster/prod": "shared", "kubernetes.io/role/elb": "1"}
    assert T.subnet_tags("private", "prod", "owned", True, True) == {
        "kubernetes.io/cluster/prod": "owned", "kubernetes.io/role/internal-elb": "1", "karpenter.sh/discovery": "prod"}
    assert T.subnet_tags("private", "prod", "shared", False, False) == {"kubernetes.io/cluster/prod": "shared"}
    assert T.subnet_stale_keys("public", {"kubernetes.io/role/internal-elb": "1"}) == ["kubernetes.io/role/internal-elb"]
    assert T.subnet_stale_keys("private", {"kubernetes.io/role/internal-elb": "1"}) == []


def test_missing_lists_every_absent_name_once():
    assert T.missing(["a", "b", "b", "c"], ["a"]) == ["b", "c"]


def test_current_tag_shapes():
    assert T.asg_current({"Tags": [{"Key": "k", "Value": "v", "PropagateAtLaunch": True}]}) == {"k": {"value": "v", "propagate": True}}
    assert T.ec2_current({"Tags": [{"Key": "k", "Value": "v"}]}) == {"k": "v"}
    assert T.ec2_current({}) == {}


def test_subnet_absent_keys_keep_what_other_clusters_use():
    mine = {"kubernetes.io/cluster/prod": "shared", "kubernetes.io/role/elb": "1", "karpenter.sh/discovery": "prod", "Name": "x"}
    assert T.subnet_absent_keys(mine, "prod") == ["karpenter.sh/discovery", "kubernetes.io/cluster/prod", "kubernetes.io/role/elb"]
    shared = dict(mine, **{"kubernetes.io/cluster/dev": "shared", "karpenter.sh/discovery": "dev"})
    assert T.subnet_absent_keys(shared, "prod") == ["kubernetes.io/cluster/prod"]


SITE_PASS = {"cluster_name": "lab", "region": "us-west-2", "subnet_ids": ["subnet-1", "subnet-2"],
             "security_group_ids": ["sg-1"], "cluster_tag_value": "shared", "load_balancer_roles": True,
             "karpenter": True, "purge": True, "state": "present"}


def test_a_subset_of_an_earlier_pass_is_covered():
    lbc = dict(SITE_PASS, security_group_ids=[], karpenter=False)
    karpenter = dict(SITE_PASS, load_balancer_roles=False)
    assert T.subnet_pass_covered([SITE_PASS], lbc)
    assert T.subnet_pass_covered([SITE_PASS], karpenter)
    assert T.subnet_pass_covered([SITE_PASS], SITE_PASS)


@pytest.mark.parametrize("change", [
    {"subnet_ids": ["subnet-1", "subnet-3"]},      # a subnet the earlier pass did not tag
    {"security_group_ids": ["sg-2"]},              # a security group it did not tag
    {"cluster_tag_value": "owned"},                # another value for the cluster tag
    {"region": "eu-west-1"},                       # another cluster
    {"state": "absent"},                           # removing is never left out
])
def test_anything_the_earlier_pass_did_not_ask_for_is_not_covered(change):
    assert not T.subnet_pass_covered([SITE_PASS], dict(SITE_PASS, **change))


@pytest.mark.parametrize("family", ["load_balancer_roles", "karpenter", "purge"])
def test_a_tag_family_or_purge_the_earlier_pass_left_out_is_not_covered(family):
    earlier = dict(SITE_PASS, **{family: False})
    assert not T.subnet_pass_covered([earlier], SITE_PASS)


def test_nothing_done_covers_nothing_and_an_absent_pass_covers_nothing():
    assert not T.subnet_pass_covered([], SITE_PASS)
    assert not T.subnet_pass_covered([dict(SITE_PASS, state="absent")], SITE_PASS)


def test_discovery_tags_role_errors_name_their_variables():
    from ansible_collections.nodeless.eks.plugins.filter.discovery_tags_errors import discovery_tags_errors

    settings = {"subnets": True, "asgs": True, "nodegroups": True, "nodegroups_given": True, "subnet_ids": ["subnet-0a"],
                "security_group_ids": ["sg-0b"], "asg_names": [], "asg_filters": {}}
    cluster = {"name": "lab", "nodegroups": [{"name": "system"}]}
    assert discovery_tags_errors(settings, cluster) == []
    assert discovery_tags_errors(dict(settings, subnet_ids=["not-a-subnet"], security_group_ids=["sg-X"]), cluster) == [
        "discovery_tags_subnet_ids must hold subnet IDs (subnet-...) and discovery_tags_security_group_ids security group "
        "IDs (sg-...); not: ['not-a-subnet', 'sg-X']."]
    assert discovery_tags_errors(dict(settings, subnet_ids=[]), dict(cluster, nodegroups=[])) == [
        "discovery_tags_subnet_ids is empty and cluster lab reports no subnets; give the subnets, or set "
        "discovery_tags_subnets to false.",
        "discovery_tags_nodegroups: cluster lab has 0 managed node groups (discovery_tags_nodegroups=True) and neither "
        "discovery_tags_asg_names nor discovery_tags_asg_filters is set: there is no ASG to tag. Set one of them, or "
        "discovery_tags_asgs to false."]
    assert discovery_tags_errors(dict(settings, asg_names=[""]), cluster) == ["discovery_tags_asg_names holds an empty name."]
    assert discovery_tags_errors(dict(settings, subnets=False, asgs=False, subnet_ids=["x"], asg_names=[""]), cluster) == []
