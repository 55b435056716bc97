# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery tags: what cluster-autoscaler, the AWS Load Balancer Controller and Karpenter look for.

Pure functions (no I/O): desired tags, validation, per-resource plans (tags to set / delete) and
the batched write requests that carry a plan out. The modules ``asg_tags`` and ``discovery_tags``
read once, call these, then send the batches. Tags are plain ``{key: value}`` dicts throughout.
"""

from __future__ import annotations

import re

from ansible_collections.nodeless.eks.plugins.module_utils.changes import change
from ansible_collections.nodeless.eks.plugins.module_utils.names import is_dns1123_subdomain

CA_PREFIX = "k8s.io/cluster-autoscaler/"
NODE_TEMPLATE = CA_PREFIX + "node-template/"
ELB_ROLE = "kubernetes.io/role/elb"
INTERNAL_ELB_ROLE = "kubernetes.io/role/internal-elb"
KARPENTER_DISCOVERY = "karpenter.sh/discovery"

MAX_KEY = 128
MAX_VALUE = 256
MAX_TAGS = 50  # per ASG and per EC2 resource
# CreateTags / DeleteTags take up to 1000 resource IDs per request (EC2 API reference).
EC2_RESOURCES_PER_CALL = 1000
# CreateOrUpdateTags / DeleteTags (autoscaling) document no per-request maximum; 500 entries keeps a
# request well under the query API's body size while 200 node groups still need only a few calls.
ASG_TAGS_PER_CALL = 500

_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute",
                  "NoSchedule": "NoSchedule", "PreferNoSchedule": "PreferNoSchedule", "NoExecute": "NoExecute"}
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")


# --- validation -------------------------------------------------------------------------------

def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a valid Kubernetes label key (``[prefix/]name``), or None."""
    prefix, name = key.rpartition("/")[::2]
    if "/" in key and not prefix:
        return "has an empty prefix before '/'"
    if prefix and not is_dns1123_subdomain(prefix):
        return f"prefix {prefix!r} is not a DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return f"name {name!r} must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric"
    return None


def label_value_error(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _LABEL_NAME.match(value):
        return "must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric"
    return None


def tag_errors(tags: dict, field: str) -> list[str]:
    """Key and value length limits shared by EC2 and Auto Scaling tags."""
    errors = []
    for key, value in tags.items():
        if not key or len(key) > MAX_KEY:
            errors.append(f"{field}: tag key {key[:40]!r}... is {len(key)} characters; AWS allows 1-{MAX_KEY}")
        if len(str(value)) > MAX_VALUE:
            errors.append(f"{field}: value of tag {key!r} is {len(str(value))} characters; AWS allows at most {MAX_VALUE}")
    return errors


def count_errors(current: dict, plans: dict, field: str) -> list[str]:
    """Resources that would carry more than MAX_TAGS tags once the plan is applied."""
    errors = []
    for rid, plan in sorted(plans.items()):
        after = set(current.get(rid, {})) - set(plan["delete"]) | set(plan["set"])
        if len(after) > MAX_TAGS:
            errors.append(f"{field}: {rid} would carry {len(after)} tags; AWS allows at most {MAX_TAGS}")
    return errors


# --- desired tags -----------------------------------------------------------------------------

def autoscaler_tags(cluster: str) -> dict:
    """The two tags cluster-autoscaler's --node-group-auto-discovery looks for."""
    return {CA_PREFIX + "enabled": "true", CA_PREFIX + cluster: "owned"}


def is_autoscaler_key(key: str, cluster: str) -> bool:
    """Keys asg_tags manages (and may purge): never another cluster's tag nor a user's own."""
    return key in autoscaler_tags(cluster) or key.startswith(NODE_TEMPLATE)


def instance_resources(instance_types: list) -> dict:
    """``ec2 describe-instance-types`` entries -> {type: {cpu, memory_mib}}."""
    return {t["InstanceType"]: {"cpu": t["VCpuInfo"]["DefaultVCpus"], "memory_mib": t["MemoryInfo"]["SizeInMiB"]}
            for t in instance_types}


def node_template_tags(nodegroup: dict, resources: dict) -> tuple[dict, list[str]]:
    """Scale-from-zero tags for one managed node group (facts shape of module_utils.eks.nodegroup_facts).

    Returns (tags, errors). With several instance types the smallest CPU and memory are used, so
    cluster-autoscaler never assumes a pod fits where it might not.
    """
    name = nodegroup["name"]
    tags, errors = {}, []
    labels = dict(nodegroup.get("labels") or {})
    labels.setdefault("eks.amazonaws.com/nodegroup", name)
    if nodegroup.get("capacity_type"):
        labels.setdefault("eks.amazonaws.com/capacityType", nodegroup["capacity_type"])
    for key, value in sorted(labels.items()):
        why = label_key_error(key)
        if why:
            errors.append(f"nodegroups[{name}].labels: key {key!r} is not a valid Kubernetes label key: {why}")
            continue
        why = label_value_error(str(value))
        if why:
            errors.append(f"nodegroups[{name}].labels.{key}: value {value!r} {why}")
            continue
        tags[f"{NODE_TEMPLATE}label/{key}"] = str(value)
    for taint in nodegroup.get("taints") or []:
        effect = _TAINT_EFFECTS.get(taint.get("effect", ""))
        key = taint.get("key", "")
        if not effect or label_key_error(key):
            errors.append(f"nodegroups[{name}].taints: {key!r} with effect {taint.get('effect')!r} is not a valid taint")
            continue
        tags[f"{NODE_TEMPLATE}taint/{key}"] = f"{taint.get('value') or ''}:{effect}"
    known = [resources[t] for t in nodegroup.get("instance_types") or [] if t in resources]
    if known:
        tags[NODE_TEMPLATE + "resources/cpu"] = str(min(r["cpu"] for r in known))
        tags[NODE_TEMPLATE + "resources/memory"] = f"{min(r['memory_mib'] for r in known)}Mi"
    return tags, errors


def subnet_tags(kind: str, cluster: str, cluster_value: str, load_balancers: bool, karpenter: bool) -> dict:
    """Desired tags of a ``public`` or ``private`` subnet."""
    tags = {f"kubernetes.io/cluster/{cluster}": cluster_value}
    if load_balancers:
        tags[ELB_ROLE if kind == "public" else INTERNAL_ELB_ROLE] = "1"
    if karpenter and kind == "private":
        tags[KARPENTER_DISCOVERY] = cluster
    return tags


def subnet_stale_keys(kind: str, current: dict) -> list[str]:
    """The load-balancer role tag of the other kind, left by an earlier misclassification."""
    wrong = INTERNAL_ELB_ROLE if kind == "public" else ELB_ROLE
    return [wrong] if wrong in current else []


def subnet_absent_keys(current: dict, cluster: str) -> list[str]:
    """What state=absent removes from a subnet: this cluster's tags; the load-balancer role tags
    only when no other cluster's ``kubernetes.io/cluster/*`` tag still relies on them."""
    mine = f"kubernetes.io/cluster/{cluster}"
    keys = [mine] if mine in current else []
    if current.get(KARPENTER_DISCOVERY) == cluster:
        keys.append(KARPENTER_DISCOVERY)
    others = [k for k in current if k.startswith("kubernetes.io/cluster/") and k != mine]
    if not others:
        keys += [k for k in (ELB_ROLE, INTERNAL_ELB_ROLE) if k in current]
    return sorted(keys)


# --- subnets: public or private ---------------------------------------------------------------

def _is_default_route_to_igw(route: dict) -> bool:
    default = route.get("DestinationCidrBlock") == "0.0.0.0/0" or route.get("DestinationIpv6CidrBlock") == "::/0"
    return default and str(route.get("GatewayId", "")).startswith("igw-") and route.get("State", "active") == "active"


def classify_subnets(subnets: list, route_tables: list) -> dict:
    """{subnet_id: 'public'|'private'}: public when its route table (explicit, else the VPC's main
    one) has a default route to an internet gateway, as the AWS docs define a public subnet."""
    explicit, main = {}, {}
    for table in route_tables:
        for assoc in table.get("Associations") or []:
            if assoc.get("SubnetId"):
                explicit[assoc["SubnetId"]] = table
            if assoc.get("Main"):
                main[table.get("VpcId")] = table
    result = {}
    for subnet in subnets:
        table = explicit.get(subnet["SubnetId"]) or main.get(subnet.get("VpcId")) or {}
        public = any(_is_default_route_to_igw(r) for r in table.get("Routes") or [])
        result[subnet["SubnetId"]] = "public" if public else "private"
    return result


# --- plans ------------------------------------------------------------------------------------

def plan(current: dict, desired: dict, remove: list | tuple = ()) -> dict:
    """Tags to set (missing or different) and keys to delete (present and in ``remove``) on one resource."""
    to_set = {k: v for k, v in desired.items() if current.get(k) != v}
    to_delete = sorted(k for k in remove if k in current and k not in desired)
    return {"set": to_set, "delete": to_delete}


def asg_plan(current: dict, desired: dict, propagate: bool, managed, purge: bool) -> dict:
    """Like plan() for an ASG whose ``current`` is {key: {value, propagate}}: a different
    propagate_at_launch is also a change. ``managed(key)`` limits what purge may delete."""
    to_set = {k: v for k, v in desired.items()
              if k not in current or current[k]["value"] != v or current[k]["propagate"] != propagate}
    to_delete = sorted(k for k in current if purge and managed(k) and k not in desired)
    return {"set": to_set, "delete": to_delete}


def pending(plans: dict) -> dict:
    """Only the resources with something to do."""
    return {rid: p for rid, p in plans.items() if p["set"] or p["delete"]}


def asg_requests(plans: dict, propagate: bool, size: int = ASG_TAGS_PER_CALL) -> tuple[list, list]:
    """(create_or_update_tags Tags lists, delete_tags Tags lists): every ASG in the same requests."""
    sets, deletes = [], []
    for name, p in sorted(plans.items()):
        sets += [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k, "Value": v, "PropagateAtLaunch": propagate}
                 for k, v in sorted(p["set"].items())]
        deletes += [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k} for k in p["delete"]]
    return _chunks(sets, size), _chunks(deletes, size)


def ec2_requests(plans: dict, size: int = EC2_RESOURCES_PER_CALL) -> tuple[list, list]:
    """(create_tags kwargs, delete_tags kwargs): one request per distinct tag set (per key set for
    deletes) across every resource that needs exactly it, split at the per-call resource limit."""
    by_set, by_keys = {}, {}
    for rid, p in sorted(plans.items()):
        if p["set"]:
            by_set.setdefault(tuple(sorted(p["set"].items())), []).append(rid)
        if p["delete"]:
            by_keys.setdefault(tuple(p["delete"]), []).append(rid)
    creates = [{"Resources": ids, "Tags": [{"Key": k, "Value": v} for k, v in tags]}
               for tags, rids in sorted(by_set.items()) for ids in _chunks(rids, size)]
    deletes = [{"Resources": ids, "Tags": [{"Key": k} for k in keys]}
               for keys, rids in sorted(by_keys.items()) for ids in _chunks(rids, size)]
    return creates, deletes


def _chunks(items: list, size: int) -> list:
    return [items[i:i + size] for i in range(0, len(items), size)]


# --- reports ----------------------------------------------------------------------------------

def after_tags(current: dict, p: dict) -> dict:
    tags = {k: v for k, v in current.items() if k not in p["delete"]}
    tags.update(p["set"])
    return tags


def describe_plan(p: dict, current: dict) -> str:
    """'+k=v ~k=old->new -k' for the plan callback and --diff readers."""
    parts = [f"+{k}={v}" if k not in current else f"~{k}={current[k]}->{v}" for k, v in sorted(p["set"].items())]
    parts += [f"-{k}" for k in p["delete"]]
    return " ".join(parts)


def report(kind: str, plans: dict, current: dict) -> tuple[list, dict]:
    """(changes, diff) for the resources in ``plans`` (already reduced by pending()).

    ``current`` is {rid: {key: value}}; the diff shows before/after tags of those resources only.
    """
    changes, before, after = [], {}, {}
    for rid, p in sorted(plans.items()):
        tags = current.get(rid, {})
        # The resource exists either way: only its tags change.
        changes.append(change("aws", kind, rid, "change", detail=describe_plan(p, tags)))
        before[rid] = dict(sorted(tags.items()))
        after[rid] = dict(sorted(after_tags(tags, p).items()))
    return changes, {"before": before, "after": after}


def asg_current(group: dict) -> dict:
    """describe_auto_scaling_groups entry -> {key: {value, propagate}}."""
    return {t["Key"]: {"value": t.get("Value", ""), "propagate": bool(t.get("PropagateAtLaunch"))} for t in group.get("Tags") or []}


def ec2_current(resource: dict) -> dict:
    return {t["Key"]: t.get("Value", "") for t in resource.get("Tags") or []}


def missing(requested: list, found: list) -> list:
    seen = set(found)
    return sorted({r for r in requested if r not in seen})


# --- passes already made in this run -------------------------------------------------------------

def subnet_pass_covered(done: list, request: dict) -> bool:
    """Whether a ``discovery_tags`` module call made earlier in this run already ensured all that
    ``request`` (the same module's arguments) asks for, so the call can be left out.

    site.yml tags everything in its tagging step; the load balancer controller and Karpenter roles then
    ask for a subset of it (the same subnets, fewer tag families). Covered means: both ``present`` for
    the same cluster, region and cluster tag value; the request's subnets and security groups among the
    earlier call's; and every tag family (load-balancer roles, Karpenter) and the purge the request
    asks for were asked for then. Anything else is sent to the module as usual.
    """
    if request.get("state") != "present":
        return False
    for prior in done or []:
        if prior.get("state") != "present":
            continue
        if any(prior.get(k) != request.get(k) for k in ("cluster_name", "region", "cluster_tag_value")):
            continue
        if not set(request.get("subnet_ids") or []) <= set(prior.get("subnet_ids") or []):
            continue
        if not set(request.get("security_group_ids") or []) <= set(prior.get("security_group_ids") or []):
            continue
        if any(request.get(k) and not prior.get(k) for k in ("load_balancer_roles", "karpenter", "purge")):
            continue
        return True
    return False


# --- the discovery_tags role's preflight -----------------------------------------------------------

_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]+$")
_SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]+$")


def role_errors(settings: dict, cluster: dict) -> list[str]:
    """Every broken setting of the ``discovery_tags`` role at once, each naming its variable.

    ``settings``: the role's variables without the ``discovery_tags_`` prefix: ``subnets``, ``asgs``,
    ``nodegroups`` (booleans), ``nodegroups_given`` (``discovery_tags_nodegroups`` as given, for the message),
    ``subnet_ids`` and ``security_group_ids`` (as the role resolved them, the cluster's by default),
    ``asg_names``, ``asg_filters``. ``cluster``: ``nodeless_eks_cluster`` (``name``, ``nodegroups``).
    """
    subnet_ids = list(settings.get("subnet_ids") or [])
    bad_ids = ([i for i in subnet_ids if not _SUBNET_ID.match(str(i))]
               + [i for i in settings.get("security_group_ids") or [] if not _SECURITY_GROUP_ID.match(str(i))])
    nodegroup_count = len(cluster.get("nodegroups") or [])
    asg_names = list(settings.get("asg_names") or [])
    errors = []
    if settings.get("subnets") and bad_ids:
        errors.append("discovery_tags_subnet_ids must hold subnet IDs (subnet-...) and discovery_tags_security_group_ids "
                      f"security group IDs (sg-...); not: {bad_ids}.")
    if settings.get("subnets") and not subnet_ids:
        errors.append(f"discovery_tags_subnet_ids is empty and cluster {cluster.get('name')} reports no subnets; "
                      "give the subnets, or set discovery_tags_subnets to false.")
    if settings.get("asgs") and not ((settings.get("nodegroups") and nodegroup_count > 0)
                                     or asg_names or settings.get("asg_filters")):
        errors.append(f"discovery_tags_nodegroups: cluster {cluster.get('name')} has {nodegroup_count} managed node groups "
                      f"(discovery_tags_nodegroups={settings.get('nodegroups_given')}) and neither discovery_tags_asg_names "
                      "nor discovery_tags_asg_filters is set: there is no ASG to tag. Set one of them, or discovery_tags_asgs to false.")
    if settings.get("asgs") and "" in asg_names:
        errors.append("discovery_tags_asg_names holds an empty name.")
    return errors
