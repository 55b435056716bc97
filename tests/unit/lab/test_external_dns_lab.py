"""The lab's ExternalDNS pieces that need no running lab: the pin and the host process's flags."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from nodeless_lab import controllers, tools

REPO = Path(__file__).resolve().parents[3]


def test_lab_builds_the_version_the_role_deploys():
    defaults = yaml.safe_load((REPO / "roles" / "external_dns" / "defaults" / "main.yml").read_text())
    assert defaults["external_dns_image"].rsplit(":", 1)[1] == f"v{tools.EXTERNAL_DNS_VERSION}"
    go_mod = (tools.GO_DIR / "externaldns" / "go.mod").read_text()
    assert re.findall(r"^\tsigs\.k8s\.io/external-dns (\S+)", go_mod, re.M) == [f"v{tools.EXTERNAL_DNS_VERSION}"]


def test_host_process_keeps_the_deployment_args_and_sets_only_its_own_endpoints():
    args = ["--source=service", "--metrics-address=:7979", "--provider=aws", "--kubeconfig", "/in/pod", "--policy=sync"]
    assert controllers.external_dns_argv("/bin/external-dns", args, Path("/lab/kubeconfig"), 4321) == [
        "/bin/external-dns", "--source=service", "--provider=aws", "--policy=sync",
        "--kubeconfig=/lab/kubeconfig", "--metrics-address=127.0.0.1:4321"]


def _change(action: str, name: str, value: str) -> dict:
    return {"Action": action, "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": value}]}}


def test_route53_create_refused_exactly_when_the_record_set_exists(monkeypatch):
    import boto3
    import pytest
    from botocore.exceptions import ClientError
    from moto import mock_aws
    from moto.route53.models import ChangeList, Route53Backend

    from nodeless_lab import moto_fixes

    # Restored after the test: the fix patches moto's classes.
    monkeypatch.setattr(Route53Backend, "change_resource_record_sets", Route53Backend.change_resource_record_sets)
    monkeypatch.setattr(ChangeList, "__contains__", ChangeList.__contains__)
    moto_fixes._route53_create_like_aws()  # noqa: SLF001 - the one fix under test
    with mock_aws():
        r53 = boto3.client("route53", region_name="us-east-1")
        zone = r53.create_hosted_zone(Name="example.com", CallerReference="unit")["HostedZone"]["Id"]

        def batch(*changes):
            return r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})

        batch(_change("CREATE", "web.example.com", "192.0.2.1"), _change("CREATE", "zz.example.com", "192.0.2.9"))
        with pytest.raises(ClientError, match="web.example.com.', type='A'] but it already exists"):
            batch(_change("CREATE", "web.example.com.", "192.0.2.2"))  # moto alone accepts a second A record set
        batch(_change("DELETE", "web.example.com", "192.0.2.1"))
        batch(_change("CREATE", "web.example.com", "192.0.2.1"))  # moto alone refuses: the same CREATE is in its journal
        batch(_change("DELETE", "web.example.com", "192.0.2.1"), _change("CREATE", "web.example.com", "192.0.2.3"))
        sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        assert [(s["Name"], s["ResourceRecords"]) for s in sets if s["Type"] == "A"] == [
            ("web.example.com.", [{"Value": "192.0.2.3"}]), ("zz.example.com.", [{"Value": "192.0.2.9"}])]
