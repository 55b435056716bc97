# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The region an AWS module will call, checked against botocore's own partition data before any client is
made: a mistyped region otherwise reaches a host that does not exist (or a lab's catch-all) and comes back,
after retries, as an error that never names `region`."""

from __future__ import annotations

import difflib
import functools


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset:
    """Every region of every partition this botocore knows (EC2 runs in each of them)."""
    # Imported here: AnsibleAWSModule reports a missing botocore itself, before any of this runs.
    import botocore.regions  # pylint: disable=import-outside-toplevel
    import botocore.session  # pylint: disable=import-outside-toplevel

    # The endpoint data alone, not Session.get_available_regions("ec2"): that parses EC2's whole service model
    # (the biggest botocore has) for its endpoint prefix, 60-90 ms of CPU in every module process under `linear`.
    loader = botocore.session.get_session().get_component("data_loader")
    resolver = botocore.regions.EndpointResolver(loader.load_data("endpoints"))
    return frozenset(r for p in resolver.get_available_partitions() for r in resolver.get_available_endpoints("ec2", p))


def region_error(region) -> str:
    """'' for a region botocore knows (or none given: boto3's own default applies), else a message naming it."""
    if not region or region in known_regions():
        return ""
    import botocore  # pylint: disable=import-outside-toplevel

    close = difflib.get_close_matches(region, sorted(known_regions()), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"region: {region!r} is not an AWS region known to botocore {botocore.__version__}{hint}"


def check_region(module) -> None:
    """Fail MODULE (an AnsibleAWSModule) before any AWS call when its region is unknown."""
    problem = region_error(module.region)
    if problem:
        module.fail_json(msg=problem)
