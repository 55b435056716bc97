# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One botocore data loader per data path for the whole Python process, so AWS clients made in new sessions share the
service models and endpoint data already parsed.

amazon.aws makes a new boto3 session for each client (``AnsibleAWSModule.client``), and each session's loader parses
the service's JSON model and endpoint rules again: 50-120 ms of CPU per client (ec2's model is the biggest). With the
default strategy every module run is a process of its own, so nothing is shared and nothing changes. Under Mitogen one
interpreter runs every module of a host, one after the other: the models parsed by the first client serve every
later one (a site.yml run makes a few hundred clients). Botocore already shares one loader, and its parsed models,
between all the clients of a session; this extends that to the sessions of the process. The data path stays the key:
a session with another ``AWS_DATA_PATH`` gets a loader of its own.
"""

from __future__ import annotations

_SHARED = "_nodeless_eks_shared_loaders"


def share_loaders() -> bool:
    """Make botocore sessions of this process share their data loader (per data path). Idempotent; False when botocore
    is missing or has no ``create_loader`` to wrap (AnsibleAWSModule reports a missing botocore itself)."""
    try:
        import botocore.session  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    if getattr(botocore.session, _SHARED, None) is not None:
        return True
    create = getattr(botocore.session, "create_loader", None)
    if create is None:
        return False
    loaders = {}

    def create_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = create_loader
    setattr(botocore.session, _SHARED, {"original": create, "loaders": loaders})
    return True
