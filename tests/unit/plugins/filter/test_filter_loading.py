"""ansible-core resolves a collection filter (or test) in the forked worker that templates it by loading every
filter (test) file of the collection, each compiled from source (its collection loader keeps no bytecode), and the
worker exits after the task. So the files themselves import none of the collection's module_utils: a filter imports
what it needs when it is called (benchmarks/filter_loading.py measures the difference)."""
from __future__ import annotations

import json
import subprocess
import sys

from support import toolchain

PLUGINS = "ansible_collections.nodeless.eks.plugins."
PROBE = """
import json, os, sys
from ansible.plugins.loader import filter_loader, init_plugin_loader, test_loader
init_plugin_loader([os.environ['ANSIBLE_COLLECTIONS_PATH']])
found = [filter_loader.get_with_context('nodeless.eks.next_minor').object is not None,
         test_loader.get_with_context('nodeless.eks.dns1123_label').object is not None]
print(json.dumps({'found': found, 'modules': sorted(m for m in sys.modules if m.startswith('%s'))}))
""" % PLUGINS


def test_resolving_one_filter_and_one_test_loads_every_file_but_no_module_utils():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                          env=toolchain.ansible_env())
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded["found"] == [True, True]
    files = {p.stem for p in (toolchain.REPO / "plugins" / "filter").glob("*.py")}
    filters = {m.rsplit(".", 1)[1] for m in loaded["modules"] if m.startswith(PLUGINS + "filter.")}
    assert files <= filters, "every filter file is loaded to find one filter (ansible-core's lookup)"
    helpers = [m for m in loaded["modules"] if not m.startswith((PLUGINS + "filter", PLUGINS + "test"))]
    assert helpers == [PLUGINS + "plugin_utils", PLUGINS + "plugin_utils.plain"], helpers
