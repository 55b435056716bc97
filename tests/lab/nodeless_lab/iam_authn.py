"""IAM authentication for the lab API server: a token-review webhook (kube-apiserver
``--authentication-token-webhook-config-file``) served by the lab's AWS process at ``POST /_lab/authenticate``.

It takes the tokens ``aws eks get-token`` makes (``k8s-aws-v1.`` + base64url of a presigned STS GetCallerIdentity URL
signed with the header ``x-k8s-aws-id: <cluster>``) and does what aws-iam-authenticator's token verifier and EKS do:

- The URL: an STS host (``sts.amazonaws.com``, ``sts.<region>.amazonaws.com``, or the lab's own AWS endpoint, where a
  client with ``AWS_ENDPOINT_URL`` presigns), path ``/``, ``Action=GetCallerIdentity``, ``Version=2011-06-15``, only
  the SigV4 query parameters besides, ``x-k8s-aws-id`` among the signed headers, signed less than 15 minutes ago.
- The signature is checked (SigV4, the secret key of the access key as moto holds it: an IAM user's access key or
  AssumeRole's temporary credentials with their session token); moto checks no signature, reads the access key only
  from an ``Authorization`` header, and its server routes a presigned GET without one to S3. Which cluster the token
  is for is the signed header's value, which the URL does not carry: the webhook tries the region's clusters and takes
  the one whose name verifies.
  The lab has one API server; it answers for every cluster in moto, each with its own authentication mode and access
  entries (the ``aws-auth`` ConfigMap is the one API server's).
- The principal is moto's STS GetCallerIdentity for that key (its backend, in this process): an IAM user's ARN or an
  assumed-role ARN (canonical ARN: the role's, without path). An unknown key is refused (401).
- Mapping, by the cluster's authentication mode: access entries in API and API_AND_CONFIG_MAP (an entry wins over
  aws-auth), ``aws-auth`` ``mapRoles`` / ``mapUsers`` / ``mapAccounts`` in CONFIG_MAP and API_AND_CONFIG_MAP; in API
  ``aws-auth`` is ignored. Username templates ``{{AccountID}}``, ``{{SessionName}}`` (``@`` as ``-``),
  ``{{SessionNameRaw}}``, ``{{AccessKeyID}}``; a mapping with ``{{EC2PrivateDNSName}}`` (nodes) is not resolved and
  does not authenticate. An aws-auth ``rolearn`` with a path matches nothing, as on EKS.
- Access policies (emulated: EKS authorizes them in a webhook authorizer of its own, the lab with RBAC): a policy
  associated with cluster scope adds the group ``eks-access-policy:<Name>``, bound by the ClusterRoleBinding
  ``nodeless-lab:eks-access-policy:<name>`` to a built-in ClusterRole; with namespace scope the group
  ``eks-access-policy:<Name>:<namespace>``, bound by a RoleBinding of that name in each namespace (made once the
  namespace exists). AmazonEKSClusterAdminPolicy -> cluster-admin, AmazonEKSAdminPolicy -> admin,
  AmazonEKSEditPolicy -> edit, AmazonEKSViewPolicy and AmazonEKSAdminViewPolicy -> view (the real AdminView also reads
  Secrets); the other policies grant nothing in the lab. The bindings are written with the emulated EKS add-on
  manager's identity (not counted as a playbook's writes), and the webhook answers once RBAC sees them.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import yaml

PREFIX = "k8s-aws-v1."
MAX_AGE = 15 * 60
_PARAMS = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
           "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}
_STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")
_EMPTY_SHA = hashlib.sha256(b"").hexdigest()
ROLES = {"AmazonEKSClusterAdminPolicy": "cluster-admin", "AmazonEKSAdminPolicy": "admin", "AmazonEKSEditPolicy": "edit",
         "AmazonEKSViewPolicy": "view", "AmazonEKSAdminViewPolicy": "view"}


class Denied(Exception):
    pass


def token_for(url: str) -> str:
    """The token of a presigned URL, as ``aws eks get-token`` writes it."""
    return PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def presign(session, cluster: str, region: str, endpoint_url: str | None = None) -> str:
    """``aws eks get-token`` in Python (what aws-iam-authenticator documents): a GetCallerIdentity URL presigned for
    60 s with the header ``x-k8s-aws-id: <cluster>``, as a token. ``session`` is a botocore session."""
    client = session.create_client("sts", region_name=region, endpoint_url=endpoint_url)

    def add_header(request, **_kwargs):
        request.headers["x-k8s-aws-id"] = cluster

    client.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
    url = client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return token_for(url)


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signature(secret: str, url: str, cluster: str) -> tuple[str, ...]:
    """The SigV4 signatures a presigned GET of ``url`` with ``x-k8s-aws-id: cluster`` has (payload hashed or unsigned)."""
    parts = urlsplit(url)
    pairs = sorted(tuple(p.split("=", 1)) if "=" in p else (p, "") for p in parts.query.split("&")
                   if p and not p.startswith("X-Amz-Signature="))
    query = dict(parse_qsl(parts.query))
    signed = query["X-Amz-SignedHeaders"].split(";")
    values = {"host": parts.netloc, "x-k8s-aws-id": cluster}
    if any(h not in values for h in signed):
        raise Denied(f"signed headers {signed} are not host and x-k8s-aws-id")
    headers = "".join(f"{h}:{values[h]}\n" for h in signed)
    date, region, service = query["X-Amz-Credential"].split("/")[1:4]
    key = _sign(_sign(_sign(_sign(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    out = []
    for payload in (_EMPTY_SHA, "UNSIGNED-PAYLOAD"):
        canonical = "\n".join(("GET", quote(parts.path or "/", safe="/-_.~"), "&".join(f"{k}={v}" for k, v in pairs),
                               headers, ";".join(signed), payload))
        to_sign = "\n".join(("AWS4-HMAC-SHA256", query["X-Amz-Date"], f"{date}/{region}/{service}/aws4_request",
                             hashlib.sha256(canonical.encode()).hexdigest()))
        out.append(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest())
    return tuple(out)


def parse(token: str, lab_hosts: tuple[str, ...] = ()) -> tuple[str, dict]:
    """(presigned URL, its query) of a well-formed token, or Denied saying why."""
    if not token.startswith(PREFIX):
        raise Denied("not a k8s-aws-v1 token")
    raw = token[len(PREFIX):]
    try:
        url = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except ValueError as exc:
        raise Denied(f"token is not base64url: {exc}") from None
    parts = urlsplit(url)
    if parts.scheme == "https" and _STS_HOST.match(parts.hostname or ""):
        pass
    elif parts.netloc not in lab_hosts:
        raise Denied(f"unexpected STS host {parts.netloc!r}")
    if parts.path not in ("", "/"):
        raise Denied(f"unexpected path {parts.path!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    extra = {k for k in query if k.lower() not in _PARAMS}
    if extra:
        raise Denied(f"unexpected query parameters {sorted(extra)}")
    if query.get("Action") != "GetCallerIdentity" or query.get("Version") != "2011-06-15":
        raise Denied("not an STS GetCallerIdentity request")
    for name in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature", "X-Amz-SignedHeaders"):
        if not query.get(name):
            raise Denied(f"{name} missing")
    if "x-k8s-aws-id" not in query["X-Amz-SignedHeaders"].split(";"):
        raise Denied("x-k8s-aws-id is not a signed header")
    try:
        signed_at = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Denied("X-Amz-Date is not a date") from None
    age = time.time() - signed_at.timestamp()
    if age > MAX_AGE or age < -300:
        raise Denied("token expired" if age > 0 else "token signed in the future")
    return url, query


def moto_credentials(access_key: str) -> tuple[str, str | None] | None:
    """(secret key, session token) moto holds for an access key: AssumeRole's or an IAM user's; None if unknown."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    from .eks_access import ACCOUNT_ID

    role = sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key)
    if role is not None:
        return role.secret_access_key, role.session_token
    user = iam_backends[ACCOUNT_ID]["aws"].get_user_from_access_key_id(access_key)
    if user is not None:
        for key in user.access_keys:
            if key.access_key_id == access_key and key.status == "Active":
                return key.secret_access_key, None
    return None


def caller_identity(access_key: str, region: str) -> dict:
    """moto's STS GetCallerIdentity for the key (UserId, Account, Arn)."""
    from moto.sts.models import sts_backends

    from .eks_access import ACCOUNT_ID

    user_id, arn, account = sts_backends[ACCOUNT_ID]["aws"].get_caller_identity(access_key, region)
    return {"UserId": user_id, "Account": account, "Arn": arn}


def canonical(arn: str) -> tuple[str, str]:
    """(canonical ARN, session name) of a caller ARN: an assumed role becomes its role (no path), a user loses its path."""
    match = re.match(r"^arn:(aws[a-z-]*):(?:sts|iam)::(\d{12}):(assumed-role|role|user)/(.+)$", arn)
    if not match:
        raise Denied(f"caller {arn} is neither a user nor a role")
    partition, account, kind, rest = match.groups()
    if kind == "assumed-role":
        role, _sep, session = rest.partition("/")
        return f"arn:{partition}:iam::{account}:role/{role}", session
    return f"arn:{partition}:iam::{account}:{'role' if kind == 'role' else 'user'}/{rest.rsplit('/', 1)[-1]}", ""


def render(template: str, identity: dict) -> str:
    if "{{EC2PrivateDNSName}}" in template:
        raise Denied("username template {{EC2PrivateDNSName}} is not resolved in the lab")
    session = identity["session"]
    return (template.replace("{{AccountID}}", identity["Account"]).replace("{{SessionNameRaw}}", session)
            .replace("{{SessionName}}", session.replace("@", "-")).replace("{{AccessKeyID}}", identity["key"]))


def from_aws_auth(data: dict, identity: dict) -> tuple[str, list[str]] | None:
    """(username, groups) of the caller in aws-auth's data, or None."""
    arn = identity["canonical"]
    for field, key in (("mapRoles", "rolearn"), ("mapUsers", "userarn")):
        for item in yaml.safe_load(data.get(field) or "[]") or []:
            if isinstance(item, dict) and item.get(key) == arn:
                return render(str(item.get("username") or arn), identity), [str(g) for g in item.get("groups") or []]
    accounts = [str(a) for a in yaml.safe_load(data.get("mapAccounts") or "[]") or []]
    if identity["Account"] in accounts:
        return arn, []
    return None


def _strip_path(arn: str) -> str:
    head, _sep, name = arn.partition("/")
    return f"{head}/{name.rsplit('/', 1)[-1]}" if name else arn


class Authenticator:
    """TokenReviews against the lab's moto (``access`` is eks_access's AccessApi); ``pki`` the lab's PKI directory,
    ``api`` the lab API server's URL (aws-auth and the access-policy bindings)."""

    def __init__(self, access, region: str, api: str, pki: Path, lab_hosts: tuple[str, ...]) -> None:
        self.access, self.region, self.api, self.lab_hosts = access, region, api, lab_hosts
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "eks-addon-manager.crt"), str(pki / "eks-addon-manager.key"))
        self.bound: set = set()
        self.lock = threading.Lock()

    def _kube(self, method: str, path: str, body: dict | None = None) -> dict | None:
        req = urllib.request.Request(self.api + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:  # noqa: S310 - the lab API server
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 409):
                return None if exc.code == 404 else {}
            raise

    def clusters(self) -> list[str]:
        from moto.eks.models import eks_backends

        from .eks_access import ACCOUNT_ID

        return list(eks_backends[ACCOUNT_ID][self.region].clusters)

    def verify(self, token: str) -> dict:
        """The caller and the cluster its token is for, or Denied."""
        url, query = parse(token, self.lab_hosts)
        key = query["X-Amz-Credential"].split("/")[0]
        creds = moto_credentials(key)
        if creds is None:
            raise Denied(f"access key {key} is not known to STS")
        secret, session_token = creds
        if session_token is not None and query.get("X-Amz-Security-Token") != session_token:
            raise Denied("security token does not match the access key")
        cluster = next((name for name in self.clusters() if query["X-Amz-Signature"] in signature(secret, url, name)), None)
        if cluster is None:
            raise Denied("signature does not match (or the token names no cluster of this lab)")
        identity = caller_identity(key, self.region)
        identity["canonical"], identity["session"] = canonical(identity["Arn"])
        identity["key"], identity["cluster"] = key, cluster
        return identity

    def map(self, identity: dict) -> tuple[str, list[str]]:
        cluster = identity["cluster"]
        mode = self.access.mode(self.region, cluster)
        if mode != "CONFIG_MAP":
            with self.access.lock:
                entries = {_strip_path(arn): e for arn, e in self.access.entries.get((self.region, cluster), {}).items()}
            entry = entries.get(identity["canonical"])
            if entry is not None:
                groups = list(entry["kubernetesGroups"])
                for policy in entry["policies"].values():
                    groups += self._policy_groups(policy)
                return render(entry["username"], identity), groups
        if mode != "API":
            cm = self._kube("GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth")
            found = from_aws_auth((cm or {}).get("data") or {}, identity)
            if found is not None:
                return found
        raise Denied(f"{identity['canonical']} has no access to cluster {cluster} (authentication mode {mode})")

    def _policy_groups(self, policy: dict) -> list[str]:
        name = policy["policyArn"].rsplit("/", 1)[-1]
        role = ROLES.get(name)
        if role is None:
            return []
        scope = policy["accessScope"]
        if scope.get("type") == "namespace":
            groups = []
            for namespace in scope.get("namespaces") or []:
                group = f"eks-access-policy:{name}:{namespace}"
                if self._bind(group, role, namespace):
                    groups.append(group)
            return groups
        group = f"eks-access-policy:{name}"
        return [group] if self._bind(group, role, None) else []

    def _bind(self, group: str, role: str, namespace: str | None) -> bool:
        """Make the binding of ``group`` once and wait until RBAC authorizes with it; False if it cannot be made."""
        with self.lock:
            if (group, namespace) in self.bound:
                return True
            name = "nodeless-lab:" + group.lower()
            meta = {"name": name, "labels": {"app.kubernetes.io/managed-by": "nodeless-lab-iam-authn"}}
            if namespace:
                meta["namespace"] = namespace
                kind, path = "RoleBinding", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"
            else:
                kind, path = "ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
            body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}
            if self._kube("POST", path, body) is None:  # the namespace does not exist (yet)
                return False
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
                "user": "nodeless-lab:probe", "groups": [group],
                "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": namespace or "default"}}}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                answer = self._kube("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review) or {}
                if answer.get("status", {}).get("allowed"):
                    break
                time.sleep(0.1)
            self.bound.add((group, namespace))
            return True

    def review(self, request: dict) -> dict:
        out = {"apiVersion": request.get("apiVersion", "authentication.k8s.io/v1"), "kind": "TokenReview"}
        try:
            identity = self.verify(str((request.get("spec") or {}).get("token") or ""))
            username, groups = self.map(identity)
        except Denied as exc:
            return dict(out, status={"authenticated": False, "error": str(exc)})
        extra = {"arn": [identity["Arn"]], "canonicalArn": [identity["canonical"]], "accessKeyId": [identity["key"]]}
        if identity["session"]:
            extra["sessionName"] = [identity["session"]]
        return dict(out, status={"authenticated": True, "user": {
            "username": username, "uid": f"aws-iam-authenticator:{identity['Account']}:{identity['UserId']}",
            "groups": groups, "extra": extra}})


class AuthnMiddleware:
    """WSGI: ``POST /_lab/authenticate`` is a TokenReview; everything else goes on."""

    def __init__(self, app, authenticator: Authenticator) -> None:
        self.app, self.authn = app, authenticator

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/_lab/authenticate" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            answer = self.authn.review(json.loads(environ["wsgi.input"].read(length) or b"{}"))
        except Exception as exc:  # noqa: BLE001 - the API server gets a 500 and says so in its log
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def wrap(app, access_app, config: dict):
    """The hook aws_server uses: ``access_app`` is eks_access's middleware (its AccessApi holds the entries)."""
    pki = Path(config["ca_file"]).parent
    hosts = (f"127.0.0.1:{config['port']}", f"localhost:{config['port']}")
    return AuthnMiddleware(app, Authenticator(access_app.api, config["region"], config["endpoint"], pki, hosts))


def webhook_kubeconfig(path: Path, aws_port: int) -> None:
    """The kubeconfig kube-apiserver's ``--authentication-token-webhook-config-file`` reads (plain HTTP on loopback)."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "webhook",
           "clusters": [{"name": "iam", "cluster": {"server": f"http://127.0.0.1:{aws_port}/_lab/authenticate"}}],
           "users": [{"name": "kube-apiserver", "user": {}}],
           "contexts": [{"name": "webhook", "context": {"cluster": "iam", "user": "kube-apiserver"}}]}
    path.write_text(yaml.safe_dump(doc))
