"""The EKS add-on API, which moto 5.2 lacks, emulated in the lab's AWS process (a WSGI layer in front of moto).

Operations (paths, parameters and response shapes as botocore's EKS model has them; tests/unit/lab checks the
shapes against that model): CreateAddon, DescribeAddon, UpdateAddon, DeleteAddon, ListAddons,
DescribeAddonVersions, DescribeAddonConfiguration. Clusters are moto's (their Kubernetes version included).

The catalogue (add-on names, versions per Kubernetes minor, configuration JSON schemas, pod identity
configuration) is lab data in ``eks_addons.json``. What follows AWS's behaviour:

- CreateAddon on an add-on that exists, and any write while the add-on is CREATING / UPDATING / DELETING:
  ResourceInUseException. Unknown cluster or add-on: ResourceNotFoundException.
- An add-on name the catalogue lacks, a version not compatible with the cluster's minor, configuration values
  that are not JSON / YAML or break the add-on's schema, an unknown resolveConflicts: InvalidParameterException
  (checked before anything is written, as EKS checks them).
- Without addonVersion, the default version for the cluster's minor is installed.
- configurationValues are stored and returned as the text sent (EKS does not reformat them).
- The add-on's workload is written into the lab's API server by server-side apply with field manager ``eks``,
  as EKS's add-on manager does: resolveConflicts OVERWRITE forces conflicts, NONE fails the add-on
  (CREATE_FAILED / UPDATE_FAILED, health issue ConfigurationConflict naming the conflicting object), PRESERVE
  (updates) leaves an object with conflicts as it is. vpc-cni: the ``aws-node`` DaemonSet (image of the version,
  ``env`` from the values' ``env``, resources, tolerations); coredns: the ``coredns`` Deployment (image,
  ``replicaCount``, ``tolerations``, ``nodeSelector``, resources); kube-proxy and eks-pod-identity-agent: their
  DaemonSets; aws-ebs-csi-driver: its controller Deployment and node DaemonSet. aws-node and coredns start from
  the objects the lab creates at ``up`` (bootstrap.py). serviceAccountRoleArn annotates the add-on's service
  account (``eks.amazonaws.com/role-arn``).
- Status: CREATING / UPDATING until the next DescribeAddon (the write itself is done during the call), then
  ACTIVE, or DEGRADED with health issue InsufficientNumberOfReplicas when a Deployment of the add-on has no Ready
  node it can schedule on (taints, tolerations, nodeSelector); health is evaluated on each DescribeAddon.
- DeleteAddon removes the workload unless ``preserve=true``; the add-on is gone from the next call.

- podIdentityAssociations: each service account must be one the add-on's pod identity configuration names
  (InvalidParameterException otherwise); the add-on owns the associations (``ownerArn``), an update replaces them,
  DescribePodIdentityAssociation reads them (only those: moto has no pod identity API).

Not emulated: Marketplace add-ons, namespaceConfig, DescribeUpdate of add-on updates, downgrade refusal, the
IAM checks behind serviceAccountRoleArn and podIdentityAssociations (trust, existence of the role).
"""
from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote

CATALOGUE = Path(__file__).with_name("eks_addons.json")
ACCOUNT_ID = "123456789012"
FIELD_MANAGER = "eks"
RESOLVE = ("OVERWRITE", "NONE", "PRESERVE")
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ROUTES = (
    ("POST", re.compile(r"^/clusters/([^/]+)/addons$"), "create"),
    ("GET", re.compile(r"^/clusters/([^/]+)/addons$"), "list"),
    ("GET", re.compile(r"^/clusters/([^/]+)/addons/([^/]+)$"), "describe"),
    ("DELETE", re.compile(r"^/clusters/([^/]+)/addons/([^/]+)$"), "delete"),
    ("POST", re.compile(r"^/clusters/([^/]+)/addons/([^/]+)/update$"), "update"),
    ("GET", re.compile(r"^/addons/supported-versions$"), "versions"),
    ("GET", re.compile(r"^/addons/configuration-schemas$"), "configuration"),
    ("GET", re.compile(r"^/clusters/([^/]+)/pod-identity-associations/([^/]+)$"), "association"),
)
_STATUS = {"ResourceNotFoundException": 404, "InvalidParameterException": 400, "ResourceInUseException": 409,
           "InvalidRequestException": 400}
_ECR = "602401143452.dkr.ecr.{region}.amazonaws.com"


class ApiError(Exception):
    def __init__(self, code: str, message: str, **fields) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


class Conflict(Exception):
    """A server-side apply without force met fields another manager owns."""


def load_catalogue(path: Path = CATALOGUE) -> dict:
    return json.loads(path.read_text())["addons"]


def _version_key(version: str) -> tuple:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def parse_values(text: str | None):
    """configurationValues as data (EKS takes JSON or YAML); raises ValueError."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid JSON or YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("must be a JSON / YAML object")
    return data


def schema_errors(schema: dict, values: dict) -> list[str]:
    """What EKS reports: '$.path: message' for every schema violation (jsonschema, formats boolean/integer)."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    checker.checks("boolean")(lambda v: not isinstance(v, str) or v in ("true", "false"))
    checker.checks("integer")(lambda v: not isinstance(v, str) or re.fullmatch(r"-?\d+", v) is not None)
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=checker)
    out = []
    for err in sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path))):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(f"{path}: {err.message}")
    return out


# --- the Kubernetes side ---------------------------------------------------------------------------

class Kube:
    """The lab API server through the admin kubeconfig (connected on first use: the server starts after moto)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self._dyn = None
        self._lock = threading.Lock()

    def _client(self):
        with self._lock:
            if self._dyn is None:
                from kubernetes import config
                from kubernetes.dynamic import DynamicClient

                self._dyn = DynamicClient(config.new_client_from_config(str(self.kubeconfig)))
            return self._dyn

    def apply(self, body: dict, force: bool) -> None:
        from kubernetes.client.exceptions import ApiException

        dyn = self._client()
        resource = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
        meta = body["metadata"]
        try:
            resource.server_side_apply(body=body, name=meta["name"], namespace=meta.get("namespace"),
                                       field_manager=FIELD_MANAGER, force_conflicts=force)
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(f"{body['kind']} {meta.get('namespace')}/{meta['name']}: "
                               f"{json.loads(exc.body or '{}').get('message', exc.reason)}") from None
            raise

    def delete(self, body: dict) -> None:
        from kubernetes.client.exceptions import ApiException

        resource = self._client().resources.get(api_version=body["apiVersion"], kind=body["kind"])
        try:
            resource.delete(name=body["metadata"]["name"], namespace=body["metadata"].get("namespace"))
        except ApiException as exc:
            if exc.status != 404:
                raise

    def nodes(self) -> list[dict]:
        return self._client().resources.get(api_version="v1", kind="Node").get().to_dict().get("items", [])


def _tolerates(tolerations: list[dict], taint: dict) -> bool:
    for tol in tolerations or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and not tol.get("key"):
            return True
        if tol.get("key") == taint.get("key") and (tol.get("operator") == "Exists" or tol.get("value") == taint.get("value")):
            return True
    return False


def schedulable(pod_spec: dict, nodes: list[dict]) -> list[str]:
    """Names of Ready nodes a pod with POD_SPEC can be scheduled on (nodeSelector, taints)."""
    out = []
    for node in nodes:
        meta, spec, status = node.get("metadata", {}), node.get("spec", {}), node.get("status", {})
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        labels = meta.get("labels") or {}
        if not ready or spec.get("unschedulable"):
            continue
        if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
            continue
        if all(_tolerates(pod_spec.get("tolerations"), t) for t in spec.get("taints") or []
               if t.get("effect") in ("NoSchedule", "NoExecute")):
            out.append(meta["name"])
    return out


def _sa(name: str, role_arn: str | None) -> dict:
    meta = {"name": name, "namespace": "kube-system"}
    if role_arn:
        meta["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def _daemonset(name: str, image: str, args: list[str], values: dict, host_network: bool = True) -> dict:
    labels = {"k8s-app": name}
    container = {"name": name, "image": image, "args": args}
    if values.get("resources"):
        container["resources"] = values["resources"]
    template_meta = {"labels": dict(labels, **(values.get("podLabels") or {}))}
    if values.get("podAnnotations"):
        template_meta["annotations"] = values["podAnnotations"]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": template_meta, "spec": {
                "serviceAccountName": name, "priorityClassName": "system-node-critical", "hostNetwork": host_network,
                "tolerations": values.get("tolerations") or [{"operator": "Exists"}], "containers": [container]}}}}


def workload(name: str, version: str, values: dict, region: str, cluster: str, role_arn: str | None) -> list[dict]:
    """The objects EKS writes for add-on NAME at VERSION with configuration VALUES (data)."""
    from nodeless_lab import bootstrap

    ecr = _ECR.format(region=region)
    base = {obj["metadata"]["name"]: obj for obj in bootstrap.system_objects() if obj["kind"] in ("Deployment", "DaemonSet")}
    if name == "vpc-cni":
        ds = copy.deepcopy(base["aws-node"])
        pod = ds["spec"]["template"]["spec"]
        container = pod["containers"][0]
        container["image"] = f"{ecr}/amazon-k8s-cni:{version}"
        env = {e["name"]: e["value"] for e in container["env"]}
        env.update({k: str(v) for k, v in (values.get("env") or {}).items()})
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        if values.get("resources"):
            container["resources"] = values["resources"]
        if values.get("tolerations"):
            pod["tolerations"] = values["tolerations"]
        return [_sa("aws-node", role_arn), ds]
    if name == "coredns":
        dep = copy.deepcopy(base["coredns"])
        pod = dep["spec"]["template"]["spec"]
        container = pod["containers"][0]
        container["image"] = f"{ecr}/eks/coredns:{version}"
        if "replicaCount" in values:
            dep["spec"]["replicas"] = values["replicaCount"]
        for key in ("tolerations", "nodeSelector"):
            if key in values:
                pod[key] = values[key]
        if values.get("resources"):
            container["resources"] = values["resources"]
        return [_sa("coredns", role_arn), dep]
    if name == "kube-proxy":
        args = ["--v=2", "--config=/var/lib/kube-proxy-config/config", f"--proxy-mode={values.get('mode', 'iptables')}"]
        return [_sa("kube-proxy", role_arn), _daemonset("kube-proxy", f"{ecr}/eks/kube-proxy:{version}", args, values)]
    if name == "eks-pod-identity-agent":
        agent_args = ["--port", "80", "--cluster-name", cluster, "--probe-port", "2703"]
        for key, value in sorted(((values.get("agent") or {}).get("additionalArgs") or {}).items()):
            agent_args += [key, value]
        return [_daemonset("eks-pod-identity-agent", f"{ecr}/eks/eks-pod-identity-agent:{version}", agent_args, values)]
    if name == "aws-ebs-csi-driver":
        controller, node = values.get("controller") or {}, values.get("node") or {}
        image = f"{ecr}/eks/aws-ebs-csi-driver:{version}"
        labels = {"app": "ebs-csi-controller"}
        pod = {"serviceAccountName": "ebs-csi-controller-sa", "priorityClassName": "system-cluster-critical",
               "tolerations": controller.get("tolerations") or [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                                                {"effect": "NoExecute", "operator": "Exists", "tolerationSeconds": 300}],
               "containers": [{"name": "ebs-plugin", "image": image, "args": ["controller", "--endpoint=$(CSI_ENDPOINT)"]}]}
        if controller.get("nodeSelector"):
            pod["nodeSelector"] = controller["nodeSelector"]
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "ebs-csi-controller", "namespace": "kube-system", "labels": labels},
               "spec": {"replicas": controller.get("replicaCount", 2), "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": pod}}}
        node_ds = _daemonset("ebs-csi-node", image, ["node", "--endpoint=$(CSI_ENDPOINT)"], node, host_network=False)
        node_ds["spec"]["template"]["spec"]["serviceAccountName"] = "ebs-csi-node-sa"
        return [_sa("ebs-csi-controller-sa", role_arn), _sa("ebs-csi-node-sa", None), dep, node_ds]
    return []


# --- the API ---------------------------------------------------------------------------------------

class AddonApi:
    """State and operations; ``kube`` may be None (unit tests): then no workload is written."""

    def __init__(self, clusters, kube: Kube | None, catalogue: dict | None = None) -> None:
        self.clusters = clusters  # (region, name) -> Kubernetes version "1.35", or None
        self.kube = kube
        self.catalogue = catalogue or load_catalogue()
        self.addons: dict = {}  # (region, cluster, name) -> addon record
        self.lock = threading.RLock()

    # catalogue
    def _compatible(self, name: str, minor: str) -> list[str]:
        versions = [v["addonVersion"] for v in self.catalogue[name]["versions"] if minor in v["clusterVersions"]]
        return sorted(versions, key=_version_key, reverse=True)

    def _default(self, name: str, minor: str) -> str | None:
        return next((v["addonVersion"] for v in self.catalogue[name]["versions"] if minor in v["defaultFor"]), None)

    def _entry(self, name: str, version: str) -> dict | None:
        return next((v for v in self.catalogue.get(name, {}).get("versions", []) if v["addonVersion"] == version), None)

    def versions(self, region: str, query: dict, body: dict) -> dict:
        minor = query.get("kubernetesVersion")
        names = [query["addonName"]] if query.get("addonName") else sorted(self.catalogue)
        types = query.get("types")
        out = []
        for name in names:
            item = self.catalogue.get(name)
            if item is None or (types and item["type"] not in types.split(",")):
                continue
            versions = []
            for ver in sorted(item["versions"], key=lambda v: _version_key(v["addonVersion"]), reverse=True):
                clusters = [c for c in ver["clusterVersions"] if minor in (None, c)]
                if not clusters:
                    continue
                versions.append({"addonVersion": ver["addonVersion"], "architecture": ["amd64", "arm64"],
                                 "computeTypes": ["ec2", "fargate", "hybrid"] if name == "coredns" else ["ec2", "hybrid"],
                                 "compatibilities": [{"clusterVersion": c, "platformVersions": ["*"],
                                                      "defaultVersion": c in ver["defaultFor"]} for c in clusters],
                                 "requiresConfiguration": False, "requiresIamPermissions": ver["requiresIamPermissions"]})
            if versions:
                out.append({"addonName": name, "type": item["type"], "addonVersions": versions, "publisher": "eks",
                            "owner": "aws", "marketplaceInformation": {}, "defaultNamespace": "kube-system"})
        start = int(query.get("nextToken") or 0)
        limit = int(query.get("maxResults") or 100)
        page = {"addons": out[start:start + limit]}
        if start + limit < len(out):
            page["nextToken"] = str(start + limit)
        return page

    def configuration(self, region: str, query: dict, body: dict) -> dict:
        name, version = query.get("addonName"), query.get("addonVersion")
        if not name or not version:
            raise ApiError("InvalidParameterException", "addonName and addonVersion are required")
        if self._entry(name, version) is None:
            raise ApiError("ResourceNotFoundException", f"Addon {name} version {version} does not exist", addonName=name)
        item = self.catalogue[name]
        return {"addonName": name, "addonVersion": version, "configurationSchema": json.dumps(item["schema"]),
                "podIdentityConfiguration": item["podIdentity"]}

    # add-ons
    def _cluster(self, region: str, cluster: str) -> str:
        minor = self.clusters(region, cluster)
        if minor is None:
            raise ApiError("ResourceNotFoundException", f"No cluster found for name: {cluster}.", clusterName=cluster)
        return minor

    def _get(self, region: str, cluster: str, name: str) -> dict:
        self._cluster(region, cluster)
        record = self.addons.get((region, cluster, name))
        if record is None:
            raise ApiError("ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster}",
                           clusterName=cluster, addonName=name)
        return record

    def _check(self, region: str, cluster: str, name: str, minor: str, body: dict, version: str | None) -> tuple:
        """(values as data, version): every check EKS makes before it writes anything."""
        if name not in self.catalogue:
            raise ApiError("InvalidParameterException", f"Addon {name} specified is not supported in {minor} kubernetes version",
                           clusterName=cluster, addonName=name)
        if version not in self._compatible(name, minor):
            raise ApiError("InvalidParameterException", f"Addon version specified {version} is not supported for {name} "
                           f"in {minor} kubernetes version", clusterName=cluster, addonName=name)
        resolve = body.get("resolveConflicts")
        if resolve is not None and resolve not in RESOLVE:
            raise ApiError("InvalidParameterException", f"resolveConflicts must be one of {list(RESOLVE)}", addonName=name)
        role = body.get("serviceAccountRoleArn")
        if role and not _ROLE_ARN.match(role):
            raise ApiError("InvalidParameterException", f"serviceAccountRoleArn {role} is not a valid IAM role ARN", addonName=name)
        allowed = [c["serviceAccount"] for c in self.catalogue[name]["podIdentity"]]
        for assoc in body.get("podIdentityAssociations") or []:
            if assoc.get("serviceAccount") not in allowed:
                raise ApiError("InvalidParameterException", f"serviceAccount {assoc.get('serviceAccount')} is not supported by "
                               f"addon {name} for pod identity; supported: {allowed}", addonName=name)
            if not _ROLE_ARN.match(assoc.get("roleArn") or ""):
                raise ApiError("InvalidParameterException", f"roleArn {assoc.get('roleArn')} is not a valid IAM role ARN",
                               addonName=name)
        try:
            values = parse_values(body.get("configurationValues"))
        except ValueError as exc:
            raise ApiError("InvalidParameterException", f"ConfigurationValue provided in request is not supported: {exc}",
                           addonName=name) from None
        errors = schema_errors(self.catalogue[name]["schema"], values)
        if errors:
            raise ApiError("InvalidParameterException", "ConfigurationValue provided in request is not supported: "
                           f"Json schema validation failed with error: [{'; '.join(errors)}]", addonName=name)
        return values, version

    def _write(self, record: dict, values: dict, resolve: str, creating: bool) -> list[dict]:
        """Apply the workload; returns health issues (a conflict under NONE)."""
        if self.kube is None:
            return []
        objects = workload(record["addonName"], record["addonVersion"], values, record["region"],
                           record["clusterName"], record.get("serviceAccountRoleArn"))
        for obj in objects:
            try:
                self.kube.apply(obj, force=resolve == "OVERWRITE")
            except Conflict as exc:
                if resolve == "PRESERVE" and not creating:
                    continue
                return [{"code": "ConfigurationConflict", "message": f"Conflicts found when trying to apply. Will not "
                         f"continue due to resolve conflicts mode. Conflicts: {exc}",
                         "resourceIds": [f"{obj['kind']}/{obj['metadata']['name']}"]}]
        return []

    def create(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            minor = self._cluster(region, cluster)
            name = body.get("addonName") or ""
            if (region, cluster, name) in self.addons:
                raise ApiError("ResourceInUseException", "Addon already exists.", clusterName=cluster, addonName=name)
            version = body.get("addonVersion") or (self._default(name, minor) if name in self.catalogue else None)
            values, version = self._check(region, cluster, name, minor, body, version)
            now = time.time()
            record = {"addonName": name, "clusterName": cluster, "status": "CREATING", "addonVersion": version,
                      "health": {"issues": []},
                      "addonArn": f"arn:aws:eks:{region}:{ACCOUNT_ID}:addon/{cluster}/{name}/{uuid.uuid4()}",
                      "createdAt": now, "modifiedAt": now, "tags": body.get("tags") or {}, "publisher": "eks", "owner": "aws",
                      "region": region}
            for key in ("serviceAccountRoleArn", "configurationValues"):
                if body.get(key):
                    record[key] = body[key]
            self._associate(record, body.get("podIdentityAssociations") or [], now)
            record["pending"] = ("CREATE_FAILED", issues) if (issues := self._write(
                record, values, body.get("resolveConflicts") or "NONE", True)) else ("ACTIVE", [])
            self.addons[(region, cluster, name)] = record
            return {"addon": self._public(record, settle=False)}

    def update(self, region: str, cluster: str, name: str, query: dict, body: dict) -> dict:
        with self.lock:
            record = self._get(region, cluster, name)
            minor = self._cluster(region, cluster)
            if record["status"] in ("CREATING", "UPDATING", "DELETING") or record.get("pending"):
                raise ApiError("ResourceInUseException", f"Addon {name} is {record['status']}; try again once it is ACTIVE",
                               clusterName=cluster, addonName=name)
            version = body.get("addonVersion") or record["addonVersion"]
            merged = dict(body)
            if "configurationValues" not in body:
                merged["configurationValues"] = record.get("configurationValues")
            values, version = self._check(region, cluster, name, minor, merged, version)
            params = [{"type": "AddonVersion", "value": version}]
            record["addonVersion"] = version
            for key, kind in (("serviceAccountRoleArn", "ServiceAccountRoleArn"), ("configurationValues", "ConfigurationValues")):
                if key in body:
                    params.append({"type": kind, "value": body[key] or ""})
                    if body[key]:
                        record[key] = body[key]
                    else:
                        record.pop(key, None)
            if "podIdentityAssociations" in body:
                params.append({"type": "PodIdentityAssociations", "value": json.dumps(body["podIdentityAssociations"] or [])})
                self._associate(record, body["podIdentityAssociations"] or [], time.time())
            if body.get("resolveConflicts"):
                params.append({"type": "ResolveConflicts", "value": body["resolveConflicts"]})
            record["status"], record["modifiedAt"] = "UPDATING", time.time()
            issues = self._write(record, values, body.get("resolveConflicts") or "NONE", False)
            record["pending"] = ("UPDATE_FAILED", issues) if issues else ("ACTIVE", [])
            return {"update": {"id": str(uuid.uuid4()), "status": "InProgress", "type": "AddonUpdate", "params": params,
                               "createdAt": record["modifiedAt"], "errors": []}}

    def delete(self, region: str, cluster: str, name: str, query: dict, body: dict) -> dict:
        with self.lock:
            record = self._get(region, cluster, name)
            if record["status"] == "DELETING":
                raise ApiError("ResourceInUseException", f"Addon {name} is already being deleted", addonName=name)
            preserve = str(query.get("preserve", "false")).lower() == "true"
            if self.kube is not None and not preserve:
                for obj in reversed(workload(name, record["addonVersion"], parse_values(record.get("configurationValues")),
                                             region, cluster, None)):
                    self.kube.delete(obj)
            record["status"] = "DELETING"
            record.pop("pending", None)
            del self.addons[(region, cluster, name)]
            return {"addon": self._public(record, settle=False)}

    def describe(self, region: str, cluster: str, name: str, query: dict, body: dict) -> dict:
        with self.lock:
            return {"addon": self._public(self._get(region, cluster, name))}

    def list(self, region: str, cluster: str, query: dict, body: dict) -> dict:
        with self.lock:
            self._cluster(region, cluster)
            names = sorted(n for (r, c, n) in self.addons if (r, c) == (region, cluster))
        start, limit = int(query.get("nextToken") or 0), int(query.get("maxResults") or 100)
        page = {"addons": names[start:start + limit]}
        if start + limit < len(names):
            page["nextToken"] = str(start + limit)
        return page

    def _associate(self, record: dict, wanted: list[dict], now: float) -> None:
        """The add-on's pod identity associations become WANTED (kept where service account and role are unchanged)."""
        region, cluster = record["region"], record["clusterName"]
        kept = {(a["serviceAccount"], a["roleArn"]): a for a in record.get("associations", [])}
        out = []
        for assoc in wanted:
            key = (assoc["serviceAccount"], assoc["roleArn"])
            if key not in kept:
                ident = f"a-{uuid.uuid4().hex[:17]}"
                kept[key] = {"clusterName": cluster, "namespace": "kube-system", "serviceAccount": key[0], "roleArn": key[1],
                             "associationArn": f"arn:aws:eks:{region}:{ACCOUNT_ID}:podidentityassociation/{cluster}/{ident}",
                             "associationId": ident, "tags": {}, "createdAt": now, "modifiedAt": now,
                             "ownerArn": record["addonArn"], "disableSessionTags": False}
            out.append(kept[key])
        record["associations"] = out
        if out:
            record["podIdentityAssociations"] = [a["associationArn"] for a in out]
        else:
            record.pop("podIdentityAssociations", None)

    def association(self, region: str, cluster: str, ident: str, query: dict, body: dict) -> dict:
        with self.lock:
            self._cluster(region, cluster)
            for (r, c, _n), record in self.addons.items():
                for assoc in record.get("associations", []) if (r, c) == (region, cluster) else []:
                    if assoc["associationId"] == ident:
                        return {"association": dict(assoc)}
        raise ApiError("ResourceNotFoundException", f"Pod identity association {ident} not found in cluster {cluster}",
                       clusterName=cluster)

    def _health(self, record: dict) -> list[dict]:
        """InsufficientNumberOfReplicas when a Deployment of the add-on has no Ready node to schedule on."""
        if self.kube is None:
            return []
        objects = workload(record["addonName"], record["addonVersion"], parse_values(record.get("configurationValues")),
                           record["region"], record["clusterName"], None)
        deployments = [o for o in objects if o["kind"] == "Deployment" and o["spec"].get("replicas", 1) > 0]
        if not deployments:
            return []
        nodes = self.kube.nodes()
        return [{"code": "InsufficientNumberOfReplicas",
                 "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
                 "resourceIds": [dep["metadata"]["name"]]}
                for dep in deployments if not schedulable(dep["spec"]["template"]["spec"], nodes)]

    def _public(self, record: dict, settle: bool = True) -> dict:
        if settle and record.get("pending"):
            record["status"], issues = record.pop("pending")
            record["health"] = {"issues": issues}
        if settle and record["status"] in ("ACTIVE", "DEGRADED"):
            issues = self._health(record)
            record["status"], record["health"] = ("DEGRADED" if issues else "ACTIVE"), {"issues": issues}
        return {k: v for k, v in record.items() if k not in ("pending", "region", "associations")}

    # HTTP
    def handle(self, method: str, path: str, query: dict, body: dict, region: str):
        """(HTTP status, payload) for an add-on request, or None when PATH is not one."""
        for verb, pattern, operation in _ROUTES:
            match = pattern.match(path) if verb == method else None
            if match:
                args = [unquote(g) for g in match.groups()]
                try:
                    return 200, getattr(self, operation)(region, *args, query, body)
                except ApiError as exc:
                    return _STATUS[exc.code], dict(exc.fields, message=exc.message, __type=exc.code)
        return None


def moto_clusters(region: str, name: str) -> str | None:
    from moto.eks.models import eks_backends

    cluster = eks_backends[ACCOUNT_ID][region].clusters.get(name)
    return None if cluster is None else str(cluster.version)


class AddonMiddleware:
    """WSGI: EKS add-on paths are answered by AddonApi; everything else goes to moto."""

    def __init__(self, app, api: AddonApi) -> None:
        self.app, self.api = app, api

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope or scope.group(2) != "eks" or ("/addons" not in path and "/pod-identity-associations/" not in path):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        query = {k: ",".join(v) for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        body = json.loads(raw) if raw.strip() else {}
        result = self.api.handle(environ.get("REQUEST_METHOD", "GET"), path, query, body, scope.group(1))
        if result is None:
            import io

            environ["wsgi.input"] = io.BytesIO(raw)
            return self.app(environ, start_response)
        status, payload = result
        headers = [("Content-Type", "application/json")]
        if status != 200:
            headers.append(("x-amzn-ErrorType", payload.pop("__type")))
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
        return [json.dumps(payload).encode()]


def wrap(app, config_path: Path):
    """The hook aws_server uses: moto behind the add-on API. Workloads are written as ``eks:addon-manager`` (a client
    certificate of the lab's PKI, left out of the audit log as EKS's writes are not a playbook's), or with the admin
    kubeconfig in a lab whose PKI predates that identity."""
    from nodeless_lab import kube

    lab = Path(config_path).parent
    config = json.loads(Path(config_path).read_text())
    pki = lab / "pki"
    kubeconfig = lab / "eks-addon-manager.kubeconfig"
    if (pki / "eks-addon-manager.crt").exists():
        kube.kubeconfig(kubeconfig, config["endpoint"], pki / "ca.crt", pki / "eks-addon-manager.crt",
                        pki / "eks-addon-manager.key", "eks:addon-manager")
    else:
        kubeconfig = lab / "admin.kubeconfig"
    return AddonMiddleware(app, AddonApi(moto_clusters, Kube(kubeconfig) if kubeconfig.exists() else None))
