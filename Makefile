# nodeless.eks — the two commands a new user runs are `make demo` and `make test` (README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
BUNDLED = $(VENV)/lib/python3.11/site-packages/ansible_collections
LAB := $(BIN)/lab
# The dependency collections and this one (by symlink) live in the project's own path.
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export ANSIBLE_CONFIG := $(CURDIR)/tests/ansible.cfg
export PATH := $(BIN):$(PATH)
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1

.PHONY: help venv collections tools lab-up lab-down lab-status demo test sanity lint unit integration molecule \
        changelog-lint docs clean reliability

help:
	@echo "make demo   build what is missing, start the lab, run the playbooks against it, show the lab"
	@echo "make test   every test layer: sanity, lint, unit, integration, molecule (starts the lab)"
	@echo "make lab-up | lab-down | lab-status | tools | docs | molecule SCENARIO=<role>"

$(BIN)/.installed: requirements.txt requirements-test.txt tests/lab/pyproject.toml
	@echo "[venv] creating $(VENV) and installing the pinned Python requirements"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.txt -e tests/lab
	touch $@
venv: $(BIN)/.installed

# Offline: the dependency collections come from the `ansible` bundle installed in the venv.
$(COLLECTIONS)/.installed: $(BIN)/.installed
	@echo "[collections] installing amazon.aws, kubernetes.core, community.aws, awx.awx, ansible.posix offline from the ansible bundle"
	rm -rf $(COLLECTIONS)
	$(BIN)/ansible-galaxy collection install --offline --force --no-deps -p $(COLLECTIONS) \
	  $(BUNDLED)/amazon/aws $(BUNDLED)/kubernetes/core $(BUNDLED)/community/aws $(BUNDLED)/awx/awx \
	  $(BUNDLED)/ansible/posix >/dev/null
	mkdir -p $(COLLECTIONS)/ansible_collections/nodeless
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/nodeless/eks
	touch $@
collections: $(COLLECTIONS)/.installed

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

test: collections tools
	$(BIN)/python tests/run_all.py

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

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

clean: lab-down
	rm -rf $(VENV) $(COLLECTIONS) .build .lab
