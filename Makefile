# nodeless.eks — the two commands a new user runs are `make demo` and `make test` (README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The primary platform is Python 3.13 with ansible 14 (ansible-core 2.21); the oldest supported one,
# Python 3.11 with ansible 12 (ansible-core 2.19), gets sanity, unit and a site.yml smoke (docs/compatibility.md).
# `make PYTHON=/path/to/python3.12` picks another interpreter for the primary venv (ansible 14 needs >= 3.12).
PYTHON ?= $(shell tests/platform/pick_python 3.13)
OLDEST_PYTHON ?= $(shell tests/platform/pick_python 3.11)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
OLDEST_VENV := $(CURDIR)/.venv-oldest
OLDEST_COLLECTIONS := $(CURDIR)/.collections-oldest
LAB := $(BIN)/lab
# The dependency collections and this one (by symlink) live in the project's own path.
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export ANSIBLE_CONFIG := $(CURDIR)/tests/ansible.cfg
export PATH := $(BIN):$(PATH)
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1

.PHONY: help venv oldest-venv oldest collections tools lab-up lab-down lab-status demo test check sanity lint unit integration molecule \
        changelog-lint docs clean reliability

help:
	@echo "make demo   build what is missing, start the lab, run the playbooks against it, show the lab"
	@echo "make test   every test layer on the primary platform, and the oldest platform's sanity, unit, site.yml smoke"
	@echo "make check  the inner loop: sanity, lint, docs, unit and one role's molecule scenario (a few minutes)"
	@echo "make lab-up | lab-down | lab-status | tools | docs | molecule SCENARIO=<role>"

# A venv is made anew when its requirements change or when it was made from another interpreter.
# make_venv DIR,PYTHON,WANTED,MINIMUM,VARIABLE,RELEASE,REQUIREMENTS
define make_venv
	@if [ -z "$(2)" ]; then echo "[venv] no Python $(3) found for $(1) ($(6)): install it (pyenv install $(3)," \
	  "or your distribution's python$(3) package), or name an interpreter of $(4) or newer: make $(5)=/path/to/python" >&2; exit 1; fi
	@"$(2)" -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v >= tuple(map(int, "$(4)".split("."))) else \
	  "[venv] $(2) is Python %d.%d; $(1) ($(6)) needs $(4) or newer: make $(5)=/path/to/python$(3)" % v)'
	@echo "[venv] creating $(1) from $(2) and installing $(7)"
	rm -rf $(1)
	"$(2)" -m venv $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check -r $(7) -e tests/lab
	echo "$(2)" > $(1)/.interpreter
	touch $(1)/.installed
endef

# Re-made when the chosen interpreter is not the one recorded in the venv.
$(shell [ -f $(VENV)/.interpreter ] && [ "$$(cat $(VENV)/.interpreter)" != "$(PYTHON)" ] && rm -f $(VENV)/.installed)
$(shell [ -f $(OLDEST_VENV)/.interpreter ] && [ "$$(cat $(OLDEST_VENV)/.interpreter)" != "$(OLDEST_PYTHON)" ] && rm -f $(OLDEST_VENV)/.installed)
$(VENV)/.installed: requirements.txt requirements-tools.txt requirements-test.txt tests/lab/pyproject.toml
	$(call make_venv,$(VENV),$(PYTHON),3.13,3.12,PYTHON,ansible 14 / ansible-core 2.21,requirements-test.txt)
venv: $(VENV)/.installed

$(OLDEST_VENV)/.installed: requirements.txt requirements-tools.txt requirements-oldest.txt tests/lab/pyproject.toml
	$(call make_venv,$(OLDEST_VENV),$(OLDEST_PYTHON),3.11,3.11,OLDEST_PYTHON,ansible 12 / ansible-core 2.19,requirements-oldest.txt)
oldest-venv: $(OLDEST_VENV)/.installed

# Offline: the dependency collections come from the `ansible` bundle installed in each venv; awx.awx from
# ansible 12's bundle (ansible 13 and later no longer ship it), for the job-template-as-code example.
bundled = $(wildcard $(1)/lib/python3.*/site-packages/ansible_collections)
define install_collections
	rm -rf $(2)
	ANSIBLE_COLLECTIONS_PATH=$(2) $(1)/bin/ansible-galaxy collection install --offline --force --no-deps -p $(2) \
	  $(call bundled,$(1))/amazon/aws $(call bundled,$(1))/kubernetes/core $(call bundled,$(1))/community/aws \
	  $(call bundled,$(1))/ansible/posix $(call bundled,$(OLDEST_VENV))/awx/awx >/dev/null
	mkdir -p $(2)/ansible_collections/nodeless
	ln -sfn $(CURDIR) $(2)/ansible_collections/nodeless/eks
	touch $(2)/.installed
endef

$(COLLECTIONS)/.installed: $(VENV)/.installed $(OLDEST_VENV)/.installed
	@echo "[collections] amazon.aws, kubernetes.core, community.aws, ansible.posix offline from the ansible 14 bundle; awx.awx from ansible 12's"
	$(call install_collections,$(VENV),$(COLLECTIONS))
$(OLDEST_COLLECTIONS)/.installed: $(OLDEST_VENV)/.installed
	@echo "[collections] the oldest platform's: amazon.aws, kubernetes.core, community.aws, ansible.posix, awx.awx from the ansible 12 bundle"
	$(call install_collections,$(OLDEST_VENV),$(OLDEST_COLLECTIONS))
collections: $(COLLECTIONS)/.installed
oldest: $(OLDEST_COLLECTIONS)/.installed

tools: venv
	$(LAB) build

lab-up: collections tools
	$(LAB) up

lab-down: venv
	$(LAB) down

lab-status: venv
	$(LAB) status

demo: collections tools
	$(BIN)/python tests/demo.py

test: collections oldest tools
	$(BIN)/python tests/run_all.py

# The inner loop: sanity, lint, docs, unit and one role's molecule scenario against the lab (minutes).
check: collections tools
	$(BIN)/python tests/run_all.py check

sanity: collections
	$(BIN)/python tests/run_all.py sanity
lint: collections
	$(BIN)/python tests/run_all.py lint
unit: collections
	$(BIN)/python tests/run_all.py unit
integration: collections tools
	$(BIN)/python tests/run_all.py integration
molecule: collections tools
	$(BIN)/python tests/run_all.py molecule $(SCENARIO)
docs: collections
	$(BIN)/python tests/run_all.py docs
# Faults, restarts, concurrent runs and security checks, in a lab of their own (docs/operations.md).
reliability: collections tools
	$(BIN)/python tests/run_all.py reliability
# Issue #23's fleet figures: site.yml over N = 1, 2, 4 separate labs, first run, gated and full-check re-runs, linear
# and Mitogen (docs/operations.md "Fleets"); a benchmark, not part of `make test` (a long run on 2 cores).
.PHONY: bench-fleet
bench-fleet: collections tools
	$(BIN)/python benchmarks/fleet.py

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

clean: lab-down
	rm -rf $(VENV) $(COLLECTIONS) $(OLDEST_VENV) $(OLDEST_COLLECTIONS) .build .lab
