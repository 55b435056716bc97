# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by nodeless.eks.karpenter_nodepool and nodeless.eks.karpenter_ec2nodeclass."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(present) applies the object(s) with server-side apply; V(absent) deletes them and waits for Karpenter's finalizers.
    type: str
    choices: [present, absent]
    default: present
  strict:
    description:
      - Turn warnings about references Karpenter tolerates (a NodePool's C(nodeClassRef) to an EC2NodeClass that does not
        exist) into failures, and fail when a legacy manifest has fields without a v1 meaning.
    type: bool
    default: false
  field_manager:
    description: Field manager name of the server-side apply; the fields it owns are the ones this module manages.
    type: str
    default: nodeless.eks
  force_conflicts:
    description: Take over fields another manager owns (as C(kubectl apply --server-side --force-conflicts)).
    type: bool
    default: true
  wait_timeout:
    description: With O(state=absent), seconds to wait for each object's finalizers to let it go.
    type: int
    default: 120
notes:
  - Check mode sends the same apply as a server-side dry run, so the CRD's defaults and CEL rules are applied and checked.
  - Only objects whose managed fields differ are sent; a re-run with the same input makes no write.
  - Field paths in messages are the Karpenter v1 (camelCase) paths, for example C(spec.template.spec.requirements[0].operator).
"""
