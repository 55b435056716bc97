"""The lab's AWS: moto's server on loopback, wrapped so the lab can count and disturb calls.

Run as ``python -m nodeless_lab.aws_server CONFIG.json``. Moto runs in this process so the lab can
edit what moto's API cannot set (an EKS cluster's endpoint, CA and OIDC issuer, node-group ASG
names), and play the kubelet for the instances Karpenter launches (``nodejoin.py``). Extra paths under
``/_lab/`` are served here and never reach moto:

- ``GET /_lab/calls``: every AWS call since the last reset, as ``[service, action, status]``, with a fourth
  item ``"injected"`` when a fault rule answered it;
- ``POST /_lab/calls/reset``;
- ``POST /_lab/faults`` ``{"rules": [{"service": "iam", "action": "*", "count": 3, "status": 400|503}]}``:
  the first ``count`` matching calls fail (400 = throttling, as AWS throttles; 503 = server error); with
  ``"every": N`` only every Nth call the rule sees fails, until ``count`` have (faults spread over a run, so
  a call kind that several modules make is failed in more than the first of them);
- ``GET /_lab/health``;
- ``POST /_lab/authenticate``: the API server's token-review webhook for IAM tokens (``iam_authn.py``).
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs

# Managed policies (AmazonEKSWorkerNodePolicy, ...) exist only when moto is told to load them.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.moto_server.werkzeug_app import (  # noqa: E402  (env must be set first)
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_REST_XML = ("route53", "s3", "cloudfront")
_READ = re.compile(r"^(Describe|List|Get|Head|Lookup|Search|Batch ?Get|Check)")


class CallLog:
    """Thread-safe record of calls and the fault rules still to apply."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[list] = []
        self.rules: list[dict] = []

    def take_fault(self, service: str, action: str) -> dict | None:
        with self.lock:
            for rule in self.rules:
                matches = rule.get("service", "*") in ("*", service) and rule.get("action", "*") in ("*", action)
                if rule["count"] > 0 and matches:
                    rule["seen"] = rule.get("seen", 0) + 1
                    if rule["seen"] % rule["every"]:
                        continue
                    rule["count"] -= 1
                    rule["injected"] = rule.get("injected", 0) + 1
                    return rule
        return None


def _action(environ: dict, body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode(errors="replace")).get("Action")
        if action:
            return action[0]
    query = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if query:
        return query[0]
    return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"


def is_write(action: str) -> bool:
    method = action.split(" ", 1)[0]
    if method in ("GET", "HEAD"):
        return False
    if method in ("POST", "PUT", "DELETE", "PATCH"):
        return True
    return not _READ.match(action)


def _fault_response(environ: dict, start_response, status: int, service: str):
    """A throttling (400) or unavailable (5xx) error shaped as the service's protocol shapes its errors."""
    code, reason = ("Throttling", "Bad Request") if status < 500 else ("ServiceUnavailable", "Service Unavailable")
    # JSON for JSON and REST-JSON services (EKS has neither a target header nor a body on GETs);
    # XML for query-protocol (Action=...) and REST-XML services.
    query = "Action=" in environ.get("QUERY_STRING", "") or environ.get("CONTENT_TYPE", "").startswith("application/x-www-form")
    if not query and service not in _REST_XML:
        error = "ThrottlingException" if status < 500 else "ServiceUnavailableException"
        body = json.dumps({"__type": error, "message": "injected by the nodeless.eks lab"}).encode()
        start_response(f"{status} {reason}", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", error)])
        return [body]
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the nodeless.eks lab</Message>"
            f"</Error><RequestId>lab</RequestId></ErrorResponse>").encode()
    if service == "ec2":  # EC2's query errors have their own envelope
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>injected by the nodeless.eks lab</Message></Error>"
                f"</Errors><RequestID>lab</RequestID></Response>").encode()
    start_response(f"{status} {reason}", [("Content-Type", "text/xml")])
    return [body]


class LabMiddleware:
    def __init__(self, app, log: CallLog) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lab/"):
            return self._lab(environ, start_response, path)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(1) if match else "unknown"
        action = _action(environ, body)
        fault = self.log.take_fault(service, action)
        status_box = {}

        def recording_start(status, headers, exc_info=None):
            status_box["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        if fault:
            result = _fault_response(environ, recording_start, fault.get("status", 400), service)
        else:
            result = self.app(environ, recording_start)
        with self.log.lock:  # an injected fault is marked: a first run meets AWS's own 400s too
            self.log.calls.append([service, action, status_box.get("status", 0)] + (["injected"] if fault else []))
        return result

    def _lab(self, environ, start_response, path):
        method = environ.get("REQUEST_METHOD")
        payload = None
        if path == "/_lab/health":
            payload = {"ok": True}
        elif path == "/_lab/calls" and method == "GET":
            with self.log.lock:
                payload = {"calls": list(self.log.calls)}
        elif path == "/_lab/calls/reset" and method == "POST":
            with self.log.lock:
                self.log.calls.clear()
            payload = {"ok": True}
        elif path == "/_lab/faults":
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                rules = json.loads(environ["wsgi.input"].read(length) or b"{}").get("rules", [])
                with self.log.lock:
                    self.log.rules = [dict(r, count=int(r.get("count", 1)), every=max(1, int(r.get("every", 1))))
                                      for r in rules]
            with self.log.lock:
                payload = {"rules": self.log.rules}
        if payload is None:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "unknown lab path"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text())
    from nodeless_lab import eks_access, eks_addons, iam_authn, moto_fixes  # noqa: PLC0415

    moto_fixes.apply()
    log = CallLog()
    # EKS add-ons, access entries and Pod Identity (moto has none) are answered in front of moto, behind the call
    # log and fault injection.
    access = eks_access.wrap(eks_addons.wrap(DomainDispatcherApplication(create_backend_app), Path(argv[1])))
    # The API server's IAM token-review webhook (iam_authn.py) is answered before the call log: it is no AWS call.
    app = iam_authn.wrap(LabMiddleware(access, log), access, config)
    server = make_server("127.0.0.1", config["port"], app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    from nodeless_lab import seed  # noqa: PLC0415 - needs the server up

    seed.seed(config)
    if config.get("node_kubeconfig"):  # Karpenter's instances become kwok Nodes (nodejoin.py)
        from nodeless_lab import nodejoin  # noqa: PLC0415

        nodejoin.start(config)
    with log.lock:
        log.calls.clear()  # the seed's own calls are not the lab user's
    Path(config["ready_file"]).write_text("ready\n")
    print(f"moto ready on 127.0.0.1:{config['port']}", flush=True)
    thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
