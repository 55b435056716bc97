"""EKS access entries, the cluster's authentication mode and Pod Identity associations, which moto 5.2 lacks,
emulated in the lab's AWS process (a WSGI layer in front of moto and of the add-on layer, eks_addons.py).

Operations (paths, parameters and response shapes as botocore's EKS model has them; tests/unit/lab checks the shapes
against that model): CreateAccessEntry, DescribeAccessEntry, UpdateAccessEntry, DeleteAccessEntry, ListAccessEntries,
AssociateAccessPolicy, DisassociateAccessPolicy, ListAssociatedAccessPolicies, ListAccessPolicies;
UpdateClusterConfig with ``accessConfig`` (and DescribeUpdate of that update); ``accessConfig`` in DescribeCluster and
CreateCluster's answer; CreatePodIdentityAssociation, DescribePodIdentityAssociation, UpdatePodIdentityAssociation,
DeletePodIdentityAssociation, ListPodIdentityAssociations. Clusters, node groups and Fargate profiles are moto's.

What follows AWS's behaviour (the EKS API reference and user guide):

- A cluster created without ``accessConfig`` is in authentication mode CONFIG_MAP (the API's default).
  UpdateClusterConfig moves it only forward, CONFIG_MAP -> API_AND_CONFIG_MAP -> API; any other change is
  InvalidParameterException ``Unsupported authentication mode update from X to Y``, and so is an access config update
  sent with another kind of update (``Only one type of update can be allowed``). When the mode comes to include API,
  EKS creates the access entries of the roles its managed node groups (EC2_LINUX) and Fargate profiles
  (FARGATE_LINUX) use; the lab does so from moto's node groups and profiles.
- Every access-entry operation on a cluster in CONFIG_MAP is InvalidRequestException (``The cluster's authentication
  mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.``).
- Access entries: one per principal (ResourceInUseException otherwise); the principal an IAM role or user ARN; types
  STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, EC2, HYBRID_LINUX, HYPERPOD_LINUX; only STANDARD takes Kubernetes
  groups and a username, and only STANDARD takes access policies; groups may not start with ``system:``, a username
  not with ``system:``, ``eks:``, ``aws:``, ``amazon:`` or ``iam:``. Default username of a STANDARD role: its
  assumed-role ARN with ``{{SessionName}}``; of a user: the user ARN; of EC2 / Fargate types the node username EKS
  gives them, in group ``system:nodes``. DeleteAccessEntry removes its policy associations.
- Access policies are EKS's managed ones (the names below, ARNs ``arn:aws:eks::aws:cluster-access-policy/<name>``):
  another ARN is InvalidParameterException; the scope is ``cluster`` (no namespaces) or ``namespace`` (with
  namespaces); associating a policy already associated replaces its scope.
- Pod Identity associations: one per namespace / service account (ResourceInUseException ``Association already
  exists: <id>``, add-on-owned associations included); ids ``a-`` + 17 characters; the role an IAM role ARN; namespace
  and service account Kubernetes names (InvalidParameterException otherwise). List returns summaries (and the add-on
  owned ones with ``ownerArn``); an association an add-on owns is changed only through the add-on
  (InvalidRequestException).
- Unknown cluster, entry, policy association, association or update: ResourceNotFoundException.

Not emulated: the cluster creator's access entry (``bootstrapClusterCreatorAdminPermissions``), entries EKS adds for
node groups or Fargate profiles created after the mode change, the IAM checks behind principals and roles (that they
exist, their trust), ``targetRoleArn`` role chaining beyond storing it, tags through TagResource on these resources,
the limits (entries, associations per cluster). The lab API server authenticates people by these entries and the
authentication mode through iam_authn.py.
State lives in the lab's AWS process, as moto's and the add-ons' does (one per lab, gone when it stops).
"""
from __future__ import annotations

import io
import json
import re
import secrets
import string
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote

ACCOUNT_ID = "123456789012"
MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
TYPES = ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX")
# The managed access policies the EKS user guide lists ("Review access policy permissions"); a subset of what
# `aws eks list-access-policies` returns today, kept to those the user guide documents.
POLICY_NAMES = (
    "AmazonAIOpsAssistantPolicy", "AmazonARCRegionSwitchScalingPolicy", "AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSClusterAdminPolicy", "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy", "AmazonEKSHybridPolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy",
    "AmazonEKSViewPolicy", "AmazonEMRJobPolicy", "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy", "AmazonSagemakerHyperpodSystemNamespacePolicy",
)
POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/{}"
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(role|user)/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RESERVED_USER = ("system:", "eks:", "aws:", "amazon:", "iam:")
_STATUS = {"ResourceNotFoundException": 404, "InvalidParameterException": 400, "ResourceInUseException": 409,
           "InvalidRequestException": 400}
_OTHER_UPDATES = ("resourcesVpcConfig", "logging", "upgradePolicy", "zonalShiftConfig", "computeConfig",
                  "kubernetesNetworkConfig", "storageConfig", "remoteNetworkConfig", "deletionProtection",
                  "controlPlaneScalingConfig", "kubeApiServerConfig", "kubeSchedulerConfig", "kubeControllerManagerConfig")
_NOT_API = "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."


class ApiError(Exception):
    def __init__(self, code: str, message: str, **fields) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


def _page(items: list, query: dict, key: str, extra: dict | None = None) -> dict:
    try:
        start, limit = int(query.get("nextToken") or 0), int(query.get("maxResults") or 100)
    except ValueError:
        raise ApiError("InvalidParameterException", "nextToken or maxResults is not valid") from None
    out = dict(extra or {}, **{key: items[start:start + limit]})
    if start + limit < len(items):
        out["nextToken"] = str(start + limit)
    return out


def _association_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "a-" + "".join(secrets.choice(alphabet) for _unused in range(17))


def moto_node_roles(region: str, cluster: str) -> list[tuple[str, str]]:
    """[(entry type, role ARN)] of moto's managed node groups (EC2_LINUX) and Fargate profiles (FARGATE_LINUX)."""
    from moto.eks.models import eks_backends

    found = eks_backends[ACCOUNT_ID][region].clusters.get(cluster)
    if found is None:
        return []
    roles = [("EC2_LINUX", ng.node_role) for ng in found.nodegroups.values() if ng.node_role]
    roles += [("FARGATE_LINUX", fp.pod_execution_role_arn) for fp in found.fargate_profiles.values() if fp.pod_execution_role_arn]
    return roles


class AccessApi:
    """State and operations. ``clusters(region, name)`` is the cluster's Kubernetes minor or None; ``addons`` the add-on
    layer's AddonApi (its add-on-owned Pod Identity associations), or None."""

    def __init__(self, clusters, addons=None, node_roles=moto_node_roles) -> None:
        self.clusters, self.addons, self.node_roles = clusters, addons, node_roles
        self.access_config: dict = {}  # (region, cluster) -> {"authenticationMode": ..., ...}
        self.entries: dict = {}  # (region, cluster) -> {principal ARN: record (with "policies": {arn: association})}
        self.pods: dict = {}  # (region, cluster) -> {association id: record}
        self.updates: dict = {}  # (region, cluster, update id) -> update
        self.lock = threading.RLock()

    # clusters
    def _cluster(self, region: str, cluster: str) -> None:
        if self.clusters(region, cluster) is None:
            raise ApiError("ResourceNotFoundException", f"No cluster found for name: {cluster}.", clusterName=cluster)

    def mode(self, region: str, cluster: str) -> str:
        return self.access_config.get((region, cluster), {}).get("authenticationMode", "CONFIG_MAP")

    def cluster_created(self, region: str, body: dict) -> None:
        """CreateCluster: the access config it asked for (CONFIG_MAP when none)."""
        access = body.get("accessConfig") or {}
        config = {"authenticationMode": access.get("authenticationMode") or "CONFIG_MAP"}
        if "bootstrapClusterCreatorAdminPermissions" in access:
            config["bootstrapClusterCreatorAdminPermissions"] = bool(access["bootstrapClusterCreatorAdminPermissions"])
        with self.lock:
            self.access_config[(region, body.get("name"))] = config

    def check_create_cluster(self, body: dict) -> None:
        mode = (body.get("accessConfig") or {}).get("authenticationMode")
        if mode is not None and mode not in MODES:
            raise ApiError("InvalidParameterException", f"authenticationMode {mode} is not one of {list(MODES)}")

    def cluster_deleted(self, region: str, cluster: str) -> None:
        with self.lock:
            for table in (self.access_config, self.entries, self.pods):
                table.pop((region, cluster), None)

    def access_config_of(self, region: str, cluster: str) -> dict:
        with self.lock:
            return dict(self.access_config.get((region, cluster)) or {"authenticationMode": "CONFIG_MAP"})

    def update_config(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            self._cluster(region, cluster)
            if any(body.get(key) is not None for key in _OTHER_UPDATES):
                raise ApiError("InvalidParameterException", "Only one type of update can be allowed.", clusterName=cluster)
            wanted = (body.get("accessConfig") or {}).get("authenticationMode")
            current = self.mode(region, cluster)
            if wanted not in MODES:
                raise ApiError("InvalidParameterException", f"authenticationMode {wanted} is not one of {list(MODES)}",
                               clusterName=cluster)
            if MODES.index(wanted) <= MODES.index(current):
                raise ApiError("InvalidParameterException", f"Unsupported authentication mode update from {current} to {wanted}",
                               clusterName=cluster)
            self.access_config.setdefault((region, cluster), {})["authenticationMode"] = wanted
            if current == "CONFIG_MAP":  # EKS gives its node groups' and Fargate profiles' roles their entries
                entries = self.entries.setdefault((region, cluster), {})
                for kind, arn in self.node_roles(region, cluster):
                    if arn not in entries and _PRINCIPAL.match(arn):
                        entries[arn] = self._new_entry(region, cluster, arn, kind, [], None, {})
            update = {"id": str(uuid.uuid4()), "status": "InProgress", "type": "AccessConfigUpdate",
                      "params": [{"type": "AuthenticationMode", "value": wanted}], "createdAt": time.time(), "errors": []}
            self.updates[(region, cluster, update["id"])] = dict(update, status="Successful")
            return {"update": update}

    def describe_update(self, region: str, cluster: str, ident: str, query: dict, body: dict) -> dict | None:
        with self.lock:
            update = self.updates.get((region, cluster, ident))
            return None if update is None else {"update": dict(update)}

    # access entries
    def _api_mode(self, region: str, cluster: str) -> dict:
        self._cluster(region, cluster)
        if self.mode(region, cluster) == "CONFIG_MAP":
            raise ApiError("InvalidRequestException", _NOT_API, clusterName=cluster)
        return self.entries.setdefault((region, cluster), {})

    def _entry(self, region: str, cluster: str, arn: str) -> dict:
        entry = self._api_mode(region, cluster).get(arn)
        if entry is None:
            raise ApiError("ResourceNotFoundException", "The specified principalArn could not be found. You can view your "
                           "available access entries with 'list-access-entries'.", clusterName=cluster)
        return entry

    @staticmethod
    def _identity(cluster: str, kind: str, groups, username) -> tuple[list, str | None]:
        if kind not in TYPES:
            raise ApiError("InvalidParameterException", f"The type {kind} is not one of {list(TYPES)}", clusterName=cluster)
        if kind != "STANDARD" and (groups or username):
            raise ApiError("InvalidParameterException", f"kubernetesGroups and username can't be specified for access entries "
                           f"of type {kind}", clusterName=cluster)
        if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
            raise ApiError("InvalidParameterException", "kubernetesGroups must be a list of group names", clusterName=cluster)
        bad = [g for g in groups if g.startswith("system:")]
        if bad:
            raise ApiError("InvalidParameterException", f"kubernetesGroups can't start with system: ({', '.join(bad)})",
                           clusterName=cluster)
        if username is not None and (not isinstance(username, str) or not username or username.startswith(_RESERVED_USER)):
            raise ApiError("InvalidParameterException", f"username {username!r} is not valid: it can't be empty or start with "
                           f"{', '.join(_RESERVED_USER)}", clusterName=cluster)
        return sorted(set(groups)), username

    def _new_entry(self, region, cluster, arn, kind, groups, username, tags) -> dict:
        account, principal, name = _PRINCIPAL.match(arn).groups()
        if username is None:
            username = {"EC2_LINUX": "system:node:{{EC2PrivateDNSName}}", "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
                        "EC2": "system:node:{{EC2PrivateDNSName}}", "HYBRID_LINUX": "system:node:{{SessionName}}",
                        "HYPERPOD_LINUX": "system:node:{{EC2PrivateDNSName}}",
                        "FARGATE_LINUX": "system:node:{{SessionName}}"}.get(kind)
        if username is None:
            username = f"arn:aws:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}" if principal == "role" else arn
        if kind != "STANDARD":
            groups = ["system:nodes"] if kind != "EC2_WINDOWS" else ["system:nodes", "eks:kube-proxy-windows"]
        now = time.time()
        return {"clusterName": cluster, "principalArn": arn, "kubernetesGroups": groups, "username": username, "type": kind,
                "accessEntryArn": f"arn:aws:eks:{region}:{ACCOUNT_ID}:access-entry/{cluster}/{principal}/{account}/{name}/"
                                  f"{uuid.uuid4()}", "createdAt": now, "modifiedAt": now, "tags": dict(tags or {}), "policies": {}}

    @staticmethod
    def _public_entry(entry: dict) -> dict:
        return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                for k, v in entry.items() if k != "policies"}

    def create_entry(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            entries = self._api_mode(region, cluster)
            arn = body.get("principalArn") or ""
            if not _PRINCIPAL.match(arn):
                raise ApiError("InvalidParameterException", f"The principalArn {arn} is not a valid IAM role or user ARN",
                               clusterName=cluster)
            kind = body.get("type") or "STANDARD"
            groups, username = self._identity(cluster, kind, body.get("kubernetesGroups") or [], body.get("username"))
            if kind != "STANDARD" and ":user/" in arn:
                raise ApiError("InvalidParameterException", f"Access entries of type {kind} take an IAM role, not a user",
                               clusterName=cluster)
            if arn in entries:
                raise ApiError("ResourceInUseException", "The specified access entry resource is already in use on this cluster.",
                               clusterName=cluster)
            entries[arn] = self._new_entry(region, cluster, arn, kind, groups, username, body.get("tags"))
            return {"accessEntry": self._public_entry(entries[arn])}

    def describe_entry(self, region: str, cluster: str, arn: str, query: dict, body: dict) -> dict:
        with self.lock:
            return {"accessEntry": self._public_entry(self._entry(region, cluster, arn))}

    def update_entry(self, region: str, cluster: str, arn: str, query: dict, body: dict) -> dict:
        with self.lock:
            entry = self._entry(region, cluster, arn)
            groups = body.get("kubernetesGroups") if "kubernetesGroups" in body else entry["kubernetesGroups"]
            if entry["type"] != "STANDARD" and ("kubernetesGroups" in body or "username" in body):
                raise ApiError("InvalidParameterException", f"kubernetesGroups and username can't be updated for access "
                               f"entries of type {entry['type']}", clusterName=cluster)
            if entry["type"] == "STANDARD":
                groups, username = self._identity(cluster, "STANDARD", groups or [], body.get("username"))
                entry["kubernetesGroups"] = groups
                if username is not None:
                    entry["username"] = username
            entry["modifiedAt"] = time.time()
            return {"accessEntry": self._public_entry(entry)}

    def delete_entry(self, region: str, cluster: str, arn: str, query: dict, body: dict) -> dict:
        with self.lock:
            self._entry(region, cluster, arn)
            del self.entries[(region, cluster)][arn]
            return {}

    def list_entries(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            entries = self._api_mode(region, cluster)
            policy = query.get("associatedPolicyArn")
            arns = sorted(a for a, e in entries.items() if not policy or policy in e["policies"])
        return _page(arns, query, "accessEntries")

    @staticmethod
    def _policy(cluster: str, arn) -> str:
        if arn not in [POLICY_ARN.format(n) for n in POLICY_NAMES]:
            raise ApiError("InvalidParameterException", f"The specified policyArn {arn} is not a valid EKS access policy; see "
                           "list-access-policies", clusterName=cluster)
        return arn

    def associate(self, region: str, cluster: str, arn: str, query: dict, body: dict) -> dict:
        with self.lock:
            entry = self._entry(region, cluster, arn)
            policy = self._policy(cluster, body.get("policyArn"))
            scope = body.get("accessScope") or {}
            kind, namespaces = scope.get("type"), scope.get("namespaces") or []
            if kind not in ("cluster", "namespace"):
                raise ApiError("InvalidParameterException", f"accessScope type {kind} is not one of [cluster, namespace]",
                               clusterName=cluster)
            if kind == "namespace" and not namespaces:
                raise ApiError("InvalidParameterException", "Namespaces must be specified for an access scope of type namespace",
                               clusterName=cluster)
            if kind == "cluster" and namespaces:
                raise ApiError("InvalidParameterException", "Namespaces can't be specified for an access scope of type cluster",
                               clusterName=cluster)
            bad = [n for n in namespaces if not isinstance(n, str) or not re.match(r"^[a-z0-9]([-a-z0-9*]*[a-z0-9*])?$", n)]
            if bad:
                raise ApiError("InvalidParameterException", f"Namespaces {bad} are not valid namespace names", clusterName=cluster)
            if entry["type"] != "STANDARD":
                raise ApiError("InvalidParameterException", f"Access policies can't be associated with access entries of type "
                               f"{entry['type']}; only STANDARD", clusterName=cluster)
            now = time.time()
            old = entry["policies"].get(policy)
            entry["policies"][policy] = {"policyArn": policy, "accessScope": {"type": kind, "namespaces": list(namespaces)},
                                         "associatedAt": old["associatedAt"] if old else now, "modifiedAt": now}
            return {"clusterName": cluster, "principalArn": arn, "associatedAccessPolicy": dict(entry["policies"][policy])}

    def disassociate(self, region: str, cluster: str, arn: str, policy: str, query: dict, body: dict) -> dict:
        with self.lock:
            entry = self._entry(region, cluster, arn)
            if entry["policies"].pop(policy, None) is None:
                raise ApiError("ResourceNotFoundException", f"The access policy {policy} is not associated with {arn}",
                               clusterName=cluster)
            return {}

    def associated(self, region: str, cluster: str, arn: str, query: dict, body: dict) -> dict:
        with self.lock:
            entry = self._entry(region, cluster, arn)
            items = [dict(p) for _k, p in sorted(entry["policies"].items())]
        return _page(items, query, "associatedAccessPolicies", {"clusterName": cluster, "principalArn": arn})

    def access_policies(self, region: str, query: dict, body: dict) -> dict:
        return _page([{"name": n, "arn": POLICY_ARN.format(n)} for n in POLICY_NAMES], query, "accessPolicies")

    # Pod Identity
    def _addon_associations(self, region: str, cluster: str) -> list[dict]:
        if self.addons is None:
            return []
        with self.addons.lock:
            return [dict(a) for (r, c, _n), record in self.addons.addons.items() if (r, c) == (region, cluster)
                    for a in record.get("associations", [])]

    def _pods(self, region: str, cluster: str) -> dict:
        self._cluster(region, cluster)
        return self.pods.setdefault((region, cluster), {})

    def _association(self, region: str, cluster: str, ident: str) -> dict:
        found = self._pods(region, cluster).get(ident)
        if found is None:
            owned = [a for a in self._addon_associations(region, cluster) if a["associationId"] == ident]
            if owned:
                raise ApiError("InvalidRequestException", f"Pod identity association {ident} is owned by {owned[0]['ownerArn']}; "
                               "change it through that add-on", clusterName=cluster)
            raise ApiError("ResourceNotFoundException", f"Pod identity association {ident} not found in cluster {cluster}",
                           clusterName=cluster)
        return found

    @staticmethod
    def _check_role(cluster: str, field: str, arn) -> None:
        if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
            raise ApiError("InvalidParameterException", f"{field} {arn} is not a valid IAM role ARN", clusterName=cluster)

    def create_association(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            pods = self._pods(region, cluster)
            namespace, account = body.get("namespace") or "", body.get("serviceAccount") or ""
            if len(namespace) > 63 or not _LABEL.match(namespace):
                raise ApiError("InvalidParameterException", f"namespace {namespace!r} is not a valid Kubernetes namespace name",
                               clusterName=cluster)
            if len(account) > 253 or not _SUBDOMAIN.match(account):
                raise ApiError("InvalidParameterException", f"serviceAccount {account!r} is not a valid Kubernetes service "
                               "account name", clusterName=cluster)
            self._check_role(cluster, "roleArn", body.get("roleArn"))
            if body.get("targetRoleArn") is not None:
                self._check_role(cluster, "targetRoleArn", body.get("targetRoleArn"))
            for other in list(pods.values()) + self._addon_associations(region, cluster):
                if (other["namespace"], other["serviceAccount"]) == (namespace, account):
                    raise ApiError("ResourceInUseException", f"Association already exists: {other['associationId']}",
                                   clusterName=cluster)
            ident, now = _association_id(), time.time()
            record = {"clusterName": cluster, "namespace": namespace, "serviceAccount": account, "roleArn": body["roleArn"],
                      "associationArn": f"arn:aws:eks:{region}:{ACCOUNT_ID}:podidentityassociation/{cluster}/{ident}",
                      "associationId": ident, "tags": dict(body.get("tags") or {}), "createdAt": now, "modifiedAt": now,
                      "disableSessionTags": bool(body.get("disableSessionTags", False))}
            for key in ("targetRoleArn", "policy"):
                if body.get(key):
                    record[key] = body[key]
            if body.get("targetRoleArn"):
                record["externalId"] = str(uuid.uuid4())
            pods[ident] = record
            return {"association": dict(record)}

    def describe_association(self, region: str, cluster: str, ident: str, query: dict, body: dict) -> dict:
        with self.lock:
            self._cluster(region, cluster)
            owned = [a for a in self._addon_associations(region, cluster) if a["associationId"] == ident]
            return {"association": owned[0] if owned else dict(self._association(region, cluster, ident))}

    def update_association(self, region: str, cluster: str, ident: str, query: dict, body: dict) -> dict:
        with self.lock:
            record = self._association(region, cluster, ident)
            if "roleArn" in body:
                self._check_role(cluster, "roleArn", body["roleArn"])
                record["roleArn"] = body["roleArn"]
            if "disableSessionTags" in body:
                record["disableSessionTags"] = bool(body["disableSessionTags"])
            for key in ("targetRoleArn", "policy"):
                if key in body:
                    if key == "targetRoleArn" and body[key]:
                        self._check_role(cluster, key, body[key])
                    if body[key]:
                        record[key] = body[key]
                    else:
                        record.pop(key, None)
            if record.get("targetRoleArn"):
                record.setdefault("externalId", str(uuid.uuid4()))
            else:
                record.pop("externalId", None)
            record["modifiedAt"] = time.time()
            return {"association": dict(record)}

    def delete_association(self, region: str, cluster: str, ident: str, query: dict, body: dict) -> dict:
        with self.lock:
            record = self._association(region, cluster, ident)
            del self.pods[(region, cluster)][ident]
            return {"association": dict(record)}

    def list_associations(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            every = list(self._pods(region, cluster).values()) + self._addon_associations(region, cluster)
        keys = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
        summaries = [{k: a[k] for k in keys if a.get(k)} for a in sorted(every, key=lambda a: (a["namespace"], a["serviceAccount"]))
                     if query.get("namespace") in (None, a["namespace"]) and query.get("serviceAccount") in (None, a["serviceAccount"])]
        return _page(summaries, query, "associations")

    # HTTP
    def route(self, method: str, parts: list[str]):
        """(operation, path arguments) for a request path split on '/', or None when it is not one of ours."""
        if parts == ["access-policies"] and method == "GET":
            return "access_policies", []
        if len(parts) < 2 or parts[0] != "clusters":
            return None
        cluster, rest = parts[1], parts[2:]
        table = {
            ("POST", 1, "access-entries"): "create_entry", ("GET", 1, "access-entries"): "list_entries",
            ("GET", 2, "access-entries"): "describe_entry", ("POST", 2, "access-entries"): "update_entry",
            ("DELETE", 2, "access-entries"): "delete_entry",
            ("POST", 3, "access-entries"): "associate", ("GET", 3, "access-entries"): "associated",
            ("DELETE", 4, "access-entries"): "disassociate",
            ("POST", 1, "pod-identity-associations"): "create_association",
            ("GET", 1, "pod-identity-associations"): "list_associations",
            ("GET", 2, "pod-identity-associations"): "describe_association",
            ("POST", 2, "pod-identity-associations"): "update_association",
            ("DELETE", 2, "pod-identity-associations"): "delete_association",
        }
        if not rest:
            return None
        operation = table.get((method, len(rest), rest[0]))
        if operation in ("associate", "associated", "disassociate") and rest[2] != "access-policies":
            return None
        if operation is None:
            return None
        args = [cluster] + [p for i, p in enumerate(rest[1:]) if i != 1]
        return operation, args

    def handle(self, method: str, parts: list[str], query: dict, body: dict, region: str):
        """(HTTP status, payload) for one of our requests, or None when it is not one."""
        found = self.route(method, parts)
        if found is None:
            return None
        operation, args = found
        try:
            return 200, getattr(self, operation)(region, *args, query, body)
        except ApiError as exc:
            return _STATUS[exc.code], dict(exc.fields, message=exc.message, __type=exc.code)


def _reply(start_response, status: int, payload: dict):
    headers = [("Content-Type", "application/json")]
    if status != 200:
        headers.append(("x-amzn-ErrorType", payload.pop("__type")))
    body = json.dumps(payload).encode()
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
    return [body]


class AccessMiddleware:
    """WSGI: access-entry, access-policy and Pod Identity paths are answered by AccessApi; DescribeCluster and
    CreateCluster get the cluster's accessConfig added; an access config update is ours; everything else goes on."""

    def __init__(self, app, api: AccessApi) -> None:
        self.app, self.api = app, api

    def _inner(self, environ, raw: bytes):
        environ["wsgi.input"] = io.BytesIO(raw)
        box: dict = {}

        def capture(status, headers, exc_info=None):
            box["status"], box["headers"] = status, headers
            return lambda _data: None

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return box["status"], box["headers"], body

    def _with_access_config(self, environ, start_response, raw: bytes, region: str, created: dict | None):
        status, headers, body = self._inner(environ, raw)
        if status.startswith("200"):
            payload = json.loads(body or b"{}")
            cluster = payload.get("cluster")
            if isinstance(cluster, dict) and cluster.get("name"):
                if created is not None:
                    self.api.cluster_created(region, created)
                cluster["accessConfig"] = self.api.access_config_of(region, cluster["name"])
                body = json.dumps(payload).encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def __call__(self, environ, start_response):
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope or scope.group(2) != "eks":
            return self.app(environ, start_response)
        region, method = scope.group(1), environ.get("REQUEST_METHOD", "GET")
        raw_path = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
        parts = [unquote(p) for p in raw_path.strip("/").split("/")]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        query = {k: ",".join(v) for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}
        if parts[:1] == ["clusters"]:
            if len(parts) == 1 and method == "POST":  # CreateCluster
                try:
                    self.api.check_create_cluster(body)
                except ApiError as exc:
                    return _reply(start_response, _STATUS[exc.code], dict(exc.fields, message=exc.message, __type=exc.code))
                return self._with_access_config(environ, start_response, raw, region, body)
            if len(parts) == 2 and method == "GET":  # DescribeCluster
                return self._with_access_config(environ, start_response, raw, region, None)
            if len(parts) == 2 and method == "DELETE":  # DeleteCluster: its entries and associations go with it
                status, headers, answer = self._inner(environ, raw)
                if status.startswith("200"):
                    self.api.cluster_deleted(region, parts[1])
                start_response(status, headers)
                return [answer]
            if len(parts) == 3 and parts[2] == "update-config" and method == "POST" and body.get("accessConfig") is not None:
                try:
                    return _reply(start_response, 200, self.api.update_config(region, parts[1], query, body))
                except ApiError as exc:
                    return _reply(start_response, _STATUS[exc.code], dict(exc.fields, message=exc.message, __type=exc.code))
            if len(parts) == 4 and parts[2] == "updates" and method == "GET":
                found = self.api.describe_update(region, parts[1], parts[3], query, body)
                if found is not None:
                    return _reply(start_response, 200, found)
        result = self.api.handle(method, parts, query, body, region)
        if result is None:
            return self.app(environ, start_response)
        return _reply(start_response, *result)


def wrap(app):
    """The hook aws_server uses: access entries and Pod Identity in front of the add-on layer (whose add-on-owned
    associations they list) and moto."""
    from nodeless_lab import eks_addons

    addons = app.api if isinstance(app, eks_addons.AddonMiddleware) else None
    return AccessMiddleware(app, AccessApi(eks_addons.moto_clusters, addons))
