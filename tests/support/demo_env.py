"""Everything site.yml needs to converge in a lab with every capability on: the demo inventory, the charts
(chart repositories are unreachable here; see docs/lab.md: upstream's Karpenter chart from the provider's
module, the stand-in for the Load Balancer Controller's) and a 0700 directory for the kubeconfigs it writes.
Used by `make demo` (tests/demo.py) and the reliability suite."""
from __future__ import annotations

import shutil
from pathlib import Path

from . import labenv

INVENTORY = labenv.REPO / "tests" / "inventory" / "demo"


def prepare(demo_dir: str | Path) -> dict:
    """Put the charts into DEMO_DIR/charts (upstream's Karpenter chart as the running lab's tools copied it from
    the provider module, the generated Load Balancer Controller stand-in) and create DEMO_DIR/kubeconfigs (0700);
    return the environment the demo inventory reads (NODELESS_DEMO_DIR)."""
    from .charts import aws_load_balancer_controller  # noqa: PLC0415 - imports yaml, PyYAML

    demo_dir = Path(demo_dir).resolve()
    charts = demo_dir / "charts"
    aws_load_balancer_controller.build(charts)
    shutil.rmtree(charts / "karpenter", ignore_errors=True)
    shutil.copytree(labenv.state()["charts"]["karpenter"], charts / "karpenter")
    kubeconfigs = demo_dir / "kubeconfigs"
    kubeconfigs.mkdir(parents=True, exist_ok=True, mode=0o700)
    kubeconfigs.chmod(0o700)
    return {"NODELESS_DEMO_DIR": str(demo_dir)}
