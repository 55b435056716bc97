# -*- coding: utf-8 -*-
# Copyright: nodeless.eks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the add-on roles (Fargate, ExternalDNS, the EKS managed add-ons of ``addons``) use; the logic lives in
module_utils."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.nodeless.eks.plugins.module_utils import addons_role
from ansible_collections.nodeless.eks.plugins.module_utils.route53_zones import resolve_zones
from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import private_subnets
from ansible_collections.nodeless.eks.plugins.module_utils.subnet_exposure import subnet_exposure


def hosted_zone_ids(zones, domains, zone_type="", field="domains"):
    try:
        return resolve_zones(zones, domains, zone_type, field)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _plain(value):
    # Tagged str / dict subclasses from Ansible's templating, as plain JSON types.
    return json.loads(json.dumps(value))


def addons_request(settings, step):
    return addons_role.request(_plain(dict(settings or {})), str(step))


def addons_names(settings):
    return addons_role.names(_plain(dict(settings or {})))


def addons_errors(settings):
    return addons_role.errors(_plain(dict(settings or {})))


class FilterModule:
    def filters(self):
        return {
            "subnet_exposure": subnet_exposure,
            "private_subnets": private_subnets,
            "hosted_zone_ids": hosted_zone_ids,
            "addons_request": addons_request,
            "addons_errors": addons_errors,
            "addons_names": addons_names,
        }
