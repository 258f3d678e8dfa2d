# gwlab: the "Calico Ingress Gateway - TLS Passthrough" workshop as a network lab.
# On a fresh Debian 12 machine, as root:  make lab   (then)   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
GWLAB := $(VENV)/bin/gwlab
APT_PACKAGES := bird iproute2 nftables curl nghttp2-client tcpdump openssl python3-venv python3-pip ca-certificates
BIRD2_PREFIX := $(CURDIR)/.deps/bird2
ENGINE ?= netns

BINDIR ?= /usr/local/bin

.PHONY: deps lab link up down clean status verify test test-unit test-lab bench bird-bench typecheck

## deps: install what is missing (Debian packages, BIRD 2 in a private prefix, the venv)
deps: $(VENV)/.installed $(BIRD2_PREFIX)/usr/sbin/bird
	@# Bytecode for every gwlab module, once: each lab process (the CLI, the control plane, the echo
	@# pods) would otherwise compile what it imports at every start where PYTHONDONTWRITEBYTECODE is set.
	@$(VENV)/bin/python -m compileall -q orchestrator >/dev/null

.deps/apt.stamp:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p .deps && touch $@

$(VENV)/.installed: pyproject.toml .deps/apt.stamp
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

$(BIRD2_PREFIX)/usr/sbin/bird: .deps/apt.stamp lab/install-bird2.sh
	bash lab/install-bird2.sh $(BIRD2_PREFIX)

## lab: bring the whole lab up and prove it end to end (it stays up; `make down` removes it)
## ENGINE=clab runs it on containerlab, kind and real Calico (see the README); the default is netns
lab: deps link
	$(GWLAB) up --engine $(ENGINE)

## link: make the CLI reachable as `gwlab`: $(BINDIR)/gwlab -> this venv's, only when that path is free
link:
	@target="$(CURDIR)/$(GWLAB)"; link="$(BINDIR)/gwlab"; \
	if [ ! -e "$$link" ] && [ ! -L "$$link" ]; then \
	  ln -s "$$target" "$$link" && echo "gwlab: $$link -> $$target"; \
	elif [ "$$(readlink "$$link")" != "$$target" ]; then \
	  echo "gwlab: $$link is taken (it is $$(readlink -f "$$link")): run this lab's CLI as $$target"; \
	fi

up: lab

down:
	@if [ -x $(GWLAB) ]; then $(GWLAB) down; else echo "no venv: nothing of gwlab was started"; fi

## clean: remove every lab and leftover of gwlab on this host
clean:
	@if [ -x $(GWLAB) ]; then $(GWLAB) clean; fi

status verify: deps
	$(GWLAB) $@

## test: unit and lab tests (real namespaces, real daemons; needs root), TEST_JOBS at a time: lab
## tests mostly wait (on BIRD's timers), each in a lab of its own name, so they run side by side
TEST_JOBS ?= 4
PYTEST := $(VENV)/bin/python -m pytest -q -n $(TEST_JOBS)

test: deps
	$(PYTEST) tests

test-unit: deps
	$(PYTEST) tests/unit

test-lab: deps
	$(PYTEST) -m lab tests

typecheck: deps
	$(VENV)/bin/mypy

## bench: medians of several runs: BGP up/down at 3 to 200 nodes beside Mininet (alternating runs), the
## passthrough path (up, gateway vs direct with h2load), bird validate (see the README's Benchmarks).
## BENCH_SIZES and BENCH_RUNS choose the sizes and the runs per size; BENCH_MININET_RUNS, Mininet's
## (its static ARP, one `arp -s` per pair of hosts, takes minutes at 200 hosts).
BENCH_APT := mininet bridge-utils
BENCH_SIZES ?= 3 20 50 100 200
BENCH_RUNS ?= 5
BENCH_MININET_RUNS ?= 5 5 5 3 1
bench: deps
	@missing=$$(for p in $(BENCH_APT); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
	$(VENV)/bin/python bench/bench_up.py --sizes $(BENCH_SIZES) --runs $(BENCH_RUNS) --mininet-runs $(BENCH_MININET_RUNS) --timeout 900
	$(VENV)/bin/python bench/bench_workshop.py --runs $(BENCH_RUNS)
	$(VENV)/bin/python bench/bench_passthrough.py
	$(MAKE) bird-bench

## bird-bench: gwlab bird validate of the workshop's bird.conf, parse only and with the route-policy test
bird-bench: deps
	$(VENV)/bin/python bench/bench_bird.py
