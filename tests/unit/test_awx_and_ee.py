"""AWX examples and the execution environment definition: valid, prompt-free, secret-free."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from support.toolchain import BIN, ansible_env

REPO = Path(__file__).resolve().parents[2]


def test_survey_asks_for_cluster_and_region_only():
    survey = json.loads((REPO / "examples" / "awx" / "survey.json").read_text())
    fields = {q["variable"]: q for q in survey["spec"]}
    assert set(fields) == {"nodeless_eks_cluster_name", "nodeless_eks_region"}
    assert all(q["required"] for q in fields.values())


def test_awx_example_holds_no_secret_and_passes_syntax_check():
    text = (REPO / "examples" / "awx" / "configure.yml").read_text() + (REPO / "examples" / "awx" / "settings.yml").read_text()
    for word in ("password", "secret_key", "token:", "aws_secret"):
        assert word not in text.lower(), f"examples/awx must not carry secrets ({word})"
    proc = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "examples/awx/configure.yml",
                           "-e", "@examples/awx/settings.yml"], cwd=REPO, capture_output=True, text=True, check=False,
                          env=ansible_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_builder_create_produces_a_valid_context(tmp_path):
    build = REPO / ".build"
    build.mkdir(exist_ok=True)
    out = tmp_path / "dist"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out), str(REPO)],
                   check=True, capture_output=True)
    shutil.copy(next(out.glob("nodeless-eks-*.tar.gz")), build / "nodeless-eks.tar.gz")
    context = tmp_path / "context"
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context", str(context),
                           "--output-filename", "Containerfile"],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    # The primary platform, the same as the venv running this test on it (docs/compatibility.md).
    assert "ansible-core==2.21.5" in containerfile and "quay.io/fedora/python-313" in containerfile
    for cli in ("awscli", "helm", "istioctl"):
        assert cli in containerfile
    assert (context / "_build" / "collections" / "nodeless-eks.tar.gz").exists()
    assert "boto3==1.44.8" in (context / "_build" / "requirements.txt").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {c["name"] for c in galaxy["collections"]} >= {"amazon.aws", "kubernetes.core", "nodeless.eks"}


def test_job_templates_declare_aws_and_kubeconfig_credentials_and_no_prompt_on_launch():
    plays = yaml.safe_load((REPO / "examples" / "awx" / "configure.yml").read_text())
    tasks = {next(k for k in t if k.startswith("awx.awx.")): t for t in plays[0]["tasks"]}
    ctype = tasks["awx.awx.credential_type"]["awx.awx.credential_type"]
    assert [f["id"] for f in ctype["inputs"]["fields"]] == ["kubeconfig"]
    assert ctype["inputs"]["fields"][0]["secret"] is True
    # AWX writes the kubeconfig to a per-job file; kubernetes.core, helm and istioctl read K8S_AUTH_KUBECONFIG.
    assert "tower.filename.kubeconfig" in ctype["injectors"]["env"]["K8S_AUTH_KUBECONFIG"]
    template = tasks["awx.awx.job_template"]["awx.awx.job_template"]
    assert template["credentials"] == ["{{ awx_aws_credential }}", "{{ awx_kubeconfig_credential }}"]
    assert not any(key.startswith("ask_") for key in template), "no prompt on launch: surveys only"
    assert {i["job_type"] for i in tasks["awx.awx.job_template"]["loop"]} == {"check", "run"}


def test_project_ansible_cfg_enables_the_plan_callback():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "examples" / "awx" / "ansible.cfg")
    assert cfg["defaults"]["callbacks_enabled"] == "nodeless.eks.plan"
    assert (REPO / "plugins" / "callback" / "plan.py").exists()
