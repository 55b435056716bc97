"""Gaps in moto the lab closes, each where real AWS behaves differently.

- EKS TagResource / UntagResource / ListTagsForResource: moto serves clusters only; AWS also tags
  node groups and Fargate profiles by ARN (community.aws.eks_fargate_profile reads their tags).
- SQS SetQueueAttributes: moto drops the queue policy when a call leaves ``Policy`` out; AWS keeps it
  (nodeless.eks.sqs_queue sends only the attributes that differ).
- IAM CreatePolicy: moto accepts a customer managed policy name already used under another path; AWS
  refuses it (names are unique in an account, whatever the path, and case-insensitive).
- EC2 CreateFleet: moto launches the first override of a lowest-price fleet and gives its instances the
  VPC's default security group, ignoring the launch template's network interface groups. AWS launches
  the cheapest offering (Karpenter sends each override's price as its ``Priority``; the lab takes the
  lowest) with the launch template's security groups, which Karpenter checks for drift.
- EKS CreateCluster with EKS Auto Mode: moto drops ``computeConfig`` and ``storageConfig`` and keeps a
  ``kubernetesNetworkConfig`` without the service CIDR it otherwise defaults. The lab keeps all three as botocore's
  model has them (CreateCluster's answer and DescribeCluster return them), and refuses before creating anything what
  the EKS user guide says Auto Mode needs: compute, block storage and load balancing enabled together, node pools
  among ``general-purpose`` / ``system`` and a ``nodeRoleArn`` when there are node pools.
- Route 53 ChangeResourceRecordSets CREATE: moto refuses a CREATE identical to one in the zone's change journal
  whenever any record sorts after it, even once that record was deleted (so ExternalDNS cannot publish a name
  again after withdrawing it), and accepts a CREATE of a record set that exists with other values. AWS refuses a
  CREATE exactly when the record set (name, type, set identifier) exists at that point of the batch.
"""
from __future__ import annotations


def _tagged(backend, arn: str):
    for cluster in backend.clusters.values():
        if cluster.arn == arn:
            return cluster
        for child in (*cluster.nodegroups.values(), *cluster.fargate_profiles.values()):
            if arn in (getattr(child, "arn", None), getattr(child, "fargate_profile_arn", None)):
                return child
    return None


def _keep_sqs_policy() -> None:
    from moto.sqs.models import Queue

    original = Queue._set_attributes

    def _set_attributes(self, attributes, now=None):
        if "Policy" not in attributes and getattr(self, "policy", None):
            attributes = dict(attributes, Policy=self.policy)
        return original(self, attributes, now)

    Queue._set_attributes = _set_attributes


def _unique_policy_names() -> None:
    from moto.iam.exceptions import EntityAlreadyExists
    from moto.iam.models import IAMBackend

    original = IAMBackend.create_policy

    def create_policy(self, description, path, policy_document, policy_name, tags):
        for policy in self.managed_policies.values():
            if f":{self.account_id}:" in policy.arn and policy.name.lower() == policy_name.lower():
                raise EntityAlreadyExists(f"A policy called {policy_name} already exists. Duplicate names are not allowed.")
        return original(self, description, path, policy_document, policy_name, tags)

    IAMBackend.create_policy = create_policy


def _launch_template_groups(backend, spec) -> list:
    """The security groups of a fleet's launch template: SecurityGroupIds, or its first network interface's Groups."""
    ref = spec.launch_template_spec or {}
    template = backend.get_launch_template(ref["LaunchTemplateId"]) if ref.get("LaunchTemplateId") else None
    if template is None:
        return []
    data = template.get_version(ref.get("Version") or template.default_version_number).data
    ids = data.get("SecurityGroupIds") or next((n.get("Groups") for n in data.get("NetworkInterfaces") or []
                                                if str(n.get("DeviceIndex", 0)) == "0"), []) or []
    return [g for g in (backend.get_security_group_from_id(i) for i in ids) if g is not None]


def _fleet_like_ec2() -> None:
    from moto.ec2.models.fleets import Fleet

    original_counts = Fleet.get_launch_spec_counts

    def get_launch_spec_counts(self, weight_to_add):
        if self.spot_options and self.spot_options.get("AllocationStrategy") == "diversified":
            return original_counts(self, weight_to_add)
        priced = [s for s in self.launch_specs if (s.overrides or {}).get("Priority") is not None]
        if not priced:
            return original_counts(self, weight_to_add)
        cheapest = min(priced, key=lambda s: float(s.overrides["Priority"]))
        count = max(1, int(-(-weight_to_add // cheapest.weighted_capacity)))
        return {cheapest: count}, count * cheapest.weighted_capacity

    def with_template_groups(original):
        def create(self, weight_to_add):
            before = {id(i) for i in _fleet_instances(self)}
            result = original(self, weight_to_add)
            for instance, spec in _fleet_instances(self, with_spec=True):
                if id(instance) in before:
                    continue
                groups = _launch_template_groups(self.ec2_backend, spec)
                if groups:
                    instance.security_groups = groups
                    for nic in instance.nics.values():
                        nic._group_set = []  # noqa: SLF001 - moto's own field; the instance's groups apply
            return result
        return create

    Fleet.get_launch_spec_counts = get_launch_spec_counts
    Fleet.create_on_demand_requests = with_template_groups(Fleet.create_on_demand_requests)
    Fleet.create_spot_requests = with_template_groups(Fleet.create_spot_requests)


def _fleet_instances(fleet, with_spec: bool = False) -> list:
    out = [(i["instance"], i["launch_spec"]) for i in fleet.on_demand_instances]
    for request in fleet.spot_requests:
        instance = getattr(request, "instance", None)
        if instance is not None:
            out.append((instance, request.launch_spec))
    return out if with_spec else [i for i, _spec in out]


AUTO_MODE_NODE_POOLS = ("general-purpose", "system")


def auto_mode_problem(compute: dict | None, storage: dict | None, network: dict | None) -> str | None:
    """What EKS refuses in CreateCluster's Auto Mode settings (the message), or None."""
    flags = {"computeConfig.enabled": (compute or {}).get("enabled"),
             "storageConfig.blockStorage.enabled": ((storage or {}).get("blockStorage") or {}).get("enabled"),
             "kubernetesNetworkConfig.elasticLoadBalancing.enabled": ((network or {}).get("elasticLoadBalancing") or {}).get("enabled")}
    if any(flags.values()) and not all(flags.values()):
        return ("EKS Auto Mode needs compute, block storage and load balancing enabled together: "
                + ", ".join(f"{k}={bool(v)}" for k, v in flags.items()))
    pools = (compute or {}).get("nodePools") or []
    unknown = [p for p in pools if p not in AUTO_MODE_NODE_POOLS]
    if unknown:
        return f"computeConfig.nodePools: {unknown} are not EKS Auto Mode node pools ({', '.join(AUTO_MODE_NODE_POOLS)})"
    if pools and not (compute or {}).get("nodeRoleArn"):
        return "computeConfig.nodeRoleArn is required when computeConfig.nodePools is not empty"
    return None


def _eks_auto_mode() -> None:
    from moto.eks.exceptions import InvalidParameterException
    from moto.eks.models import DEFAULT_KUBERNETES_NETWORK_CONFIG
    from moto.eks.responses import EKSResponse

    original = EKSResponse.create_cluster

    def create_cluster(self):
        compute, storage = self._get_param("computeConfig"), self._get_param("storageConfig")
        network = self._get_param("kubernetesNetworkConfig")
        problem = auto_mode_problem(compute, storage, network)
        if problem:
            raise InvalidParameterException(clusterName=self._get_param("name"), message=problem)
        result = original(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        if compute is not None:
            cluster.compute_config = {"enabled": bool(compute.get("enabled")), "nodePools": list(compute.get("nodePools") or []),
                                      **({"nodeRoleArn": compute["nodeRoleArn"]} if compute.get("nodeRoleArn") else {})}
        if storage is not None:
            cluster.storage_config = {"blockStorage": {"enabled": bool((storage.get("blockStorage") or {}).get("enabled"))}}
        if network:
            cluster.kubernetes_network_config = {**DEFAULT_KUBERNETES_NETWORK_CONFIG, "ipFamily": "ipv4", **network}
        return result

    EKSResponse.create_cluster = create_cluster


def _rrset_key(name: str, kind: str, set_identifier: str | None) -> tuple:
    return name.rstrip(".").lower(), kind, set_identifier


def _route53_create_like_aws() -> None:
    from moto.route53.exceptions import ResourceRecordAlreadyExists
    from moto.route53.models import ChangeList, Route53Backend

    original = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        existing = {_rrset_key(r.name, r.type, r.set_identifier) for r in zone.rrsets}
        for change in change_list:  # in order: a batch may delete a record set and create it again
            rrset = change["ResourceRecordSet"]
            key = _rrset_key(rrset["Name"], rrset["Type"], rrset.get("SetIdentifier"))
            if change["Action"] == "CREATE" and key in existing:
                raise ResourceRecordAlreadyExists(name=rrset["Name"].rstrip(".") + ".", _type=rrset["Type"])
            if change["Action"] == "DELETE":
                existing.discard(key)
            else:
                existing.add(key)
        return original(self, zoneid, change_list)

    Route53Backend.change_resource_record_sets = change_resource_record_sets
    # The journal lookup is moto's only use of `in` on a ChangeList; the check above replaces it.
    ChangeList.__contains__ = lambda self, item: False


def apply() -> None:
    from moto.eks.models import EKSBackend

    _keep_sqs_policy()
    _route53_create_like_aws()
    _unique_policy_names()
    _fleet_like_ec2()
    _eks_auto_mode()

    originals = {name: getattr(EKSBackend, name) for name in ("tag_resource", "untag_resource", "list_tags_for_resource")}

    def tag_resource(self, resource_arn, tags):
        found = _tagged(self, resource_arn)
        return found.tags.update(tags) if found is not None else originals["tag_resource"](self, resource_arn, tags)

    def untag_resource(self, resource_arn, tag_keys):
        found = _tagged(self, resource_arn)
        if found is None:
            return originals["untag_resource"](self, resource_arn, tag_keys)
        for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
            found.tags.pop(key, None)
        return None

    def list_tags_for_resource(self, resource_arn):
        found = _tagged(self, resource_arn)
        return found.tags if found is not None else originals["list_tags_for_resource"](self, resource_arn)

    EKSBackend.tag_resource = tag_resource
    EKSBackend.untag_resource = untag_resource
    EKSBackend.list_tags_for_resource = list_tags_for_resource
