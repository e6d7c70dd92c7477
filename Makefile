# msgbus: `make demo` and `make test` set up everything they need on a fresh
# Debian machine (Java and Maven from apt, a venv from PyPI, Kafka jars from
# Maven Central) and start every broker they use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest -p no:cacheprovider -o faulthandler_timeout=600

.PHONY: help deps venv jars lint typecheck unit test-fast integration faults compat test demo kafka-start kafka-stop clean kcat gopeer interop bench bench-smoke bench-rebalance chaos chaos-long dist docs release-check

help:
	@echo "make demo   - start a local Kafka and run the spec's use cases end to end"
	@echo "make test   - install everything, then lint, type-check and run the whole suite"
	@echo "make test-fast - the edit-test loop: unit tests and the behaviour suite on the in-process bus and MockKafka"
	@echo "make faults - the fault scenarios, ending with a table of lost and duplicated messages"
	@echo "make compat - the seed contract, behaviour and fault suites on each Kafka of COMPAT_VERSIONS"
	@echo "make interop - msgbus against the Go peer and kcat, both ways, byte for byte"
	@echo "make bench-rebalance - what a join and a leave cost a group, per group_protocol"
	@echo "make chaos  - seeded randomized history check on real brokers (SEED=, DURATION=, NODES=)"
	@echo "make chaos-long - the README's 30-minute run: 6 seeds (CHAOS_SEEDS=), 150 s each on 1 and on 3 nodes"
	@echo "make dist   - build the sdist and wheel into dist/ and run twine check"
	@echo "make docs   - build the API reference into build/site/ (mkdocs, strict: a warning fails)"
	@echo "make release-check - the built wheel in a clean venv: examples, pytest fixtures, mypy --strict"

# Java 17+ and Maven run the local broker; install them from Debian's packages if missing.
deps:
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  echo "installing Java and Maven from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench,release,docs]'
	touch $(STAMP)

venv: $(STAMP)

# Resolve the broker's jars from Maven Central into the cache (once).
jars: deps venv
	$(PY) -c "from msgbus.testing.localkafka import ensure_jars; print('kafka jars:', ensure_jars())"

lint: venv
	$(VENV)/bin/ruff check src tests examples bench
	$(VENV)/bin/ruff format --check src tests examples bench

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(PYTEST) tests/unit

# The edit-test loop (about 2 minutes, no Java): the unit tests, and the behaviour suite on the
# in-process bus and librdkafka's mock cluster (its real-broker class is marked integration).
test-fast: venv
	$(PYTEST) -q tests/unit tests/behaviour -m "not integration"

integration: jars
	$(PYTEST) tests/integration

# Fault scenarios (broker restarts, a killed leader in a 3-node cluster, crashed
# readers, hung brokers, bad input, leaks); ends with a table of what was written,
# acknowledged, read, lost and duplicated (also in tests/faults/.results/).
faults: jars
	$(PYTEST) tests/faults

# Broker compatibility (issue 21; docs/brokers.md holds the measured table): the same suites on each
# Kafka release below, picked by MSGBUS_KAFKA_VERSION (LocalKafka's default version): the seed's
# contract (the spec's use cases: lifecycle, writer, reader, callbacks, topics the broker will not
# create), the behaviour suite on Kafka, and the fault scenarios, which restart and kill brokers.
# COMPAT_VERSIONS="3.9.2" runs one; each version's summary goes to build/compat/<version>.txt.
COMPAT_VERSIONS ?= 3.6.2 3.9.2 4.1.1 4.4.0
COMPAT_SEED := tests/integration/test_lifecycle.py tests/integration/test_writer.py \
	tests/integration/test_reader.py tests/integration/test_callbacks.py tests/integration/test_topic_errors.py
# The version `make test` runs the behaviour suite on too: the last 3.x line.
TEST_3X_VERSION := 3.9.2

compat: jars
	@mkdir -p build/compat
	@failed=""; for v in $(COMPAT_VERSIONS); do \
	  echo "=== Kafka $$v ==="; \
	  MSGBUS_KAFKA_VERSION=$$v $(PY) -c "from msgbus.testing.localkafka import ensure_jars; ensure_jars('$$v')" \
	    > build/compat/$$v.txt 2>&1 || { failed="$$failed $$v"; tail -3 build/compat/$$v.txt; continue; }; \
	  MSGBUS_KAFKA_VERSION=$$v $(PYTEST) -q $(COMPAT_SEED) tests/behaviour -k "not TestInProcessBus and not TestMockKafka" \
	    2>&1 | tee -a build/compat/$$v.txt | tail -3; \
	  MSGBUS_KAFKA_VERSION=$$v $(PYTEST) -q tests/faults 2>&1 | tee -a build/compat/$$v.txt | tail -25; \
	  if grep -q -E "(^|, )[0-9]+ (failed|errors?)(,| in )" build/compat/$$v.txt; then failed="$$failed $$v"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make compat: failures on Kafka$$failed (see build/compat/<version>.txt)"; exit 1; fi

# Seeded, randomized history check (issue 9): writers and readers of every kind joining
# and leaving, partitions added, nodes killed, stopped and paused, on 1 and on 3 nodes;
# prints the anomaly table (also in tests/chaos/.results/) and fails on any anomaly.
# SEED= replays a run's schedule (default: a random seed, printed); DURATION= is the
# seconds of history per cluster size (so about 2 minutes by default); NODES= "1", "3" or "1 3".
# `make test` runs a shorter one (tests/chaos/test_chaos.py; CHAOS_SEED= there).
SEED ?=
DURATION ?= 60
NODES ?= 1 3

chaos: jars
	$(PY) -m tests.chaos $(if $(SEED),--seed $(SEED)) --duration $(DURATION) --nodes $(NODES)

# The long run behind the README's table: 6 seeds x (150 s on 1 node + 150 s on 3 nodes) = 30
# minutes of history (about an hour in all); every reader kind is drawn many times. Ends with
# a summary by reader kind.
CHAOS_SEEDS ?= 101 102 103 104 105 106

chaos-long: jars
	$(PY) -m tests.chaos --seeds $(CHAOS_SEEDS) --duration 150 --nodes 1 3

# Interop with peers nobody here wrote: kcat (Debian's package) and the Go peer
# (interop/gopeer, confluent-kafka-go/v2 as the Go original configures it; cgo).
# `make test` runs them when Go is installed, and says so plainly when it is not.
GO := $(shell command -v go 2>/dev/null)
GOPEER := interop/bin/gopeer
ifeq ($(GO),)
TEST_INTEROP :=
TEST_IGNORE := --ignore=tests/interop
else
TEST_INTEROP := kcat gopeer
TEST_IGNORE :=
endif

kcat:
	@command -v kcat >/dev/null || { \
	  echo "installing kcat from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat; }

$(GOPEER): interop/gopeer/main.go interop/gopeer/go.mod interop/gopeer/go.sum
	@command -v go >/dev/null || { echo "Go is not installed: cannot build the Go peer ($(GOPEER))"; exit 1; }
	cd interop/gopeer && GOFLAGS=-mod=mod CGO_ENABLED=1 go build -o ../bin/gopeer .

gopeer: $(GOPEER)

interop: deps venv jars kcat gopeer
	$(PYTEST) tests/interop

# The release: the sdist and wheel a user would `pip install`, checked by twine; the
# sdist must hold what a user needs and none of the work tree's junk (tests/release checks both).
dist: venv
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

# The API reference from the docstrings (docs/, mkdocs.yml) into build/site/; --strict fails on any warning.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

# dist/'s wheel in a clean venv outside the source tree: the examples against a broker it
# starts, a user's suite on the pytest plugin's fixtures, mypy --strict on a user's file.
release-check: dist jars
	MSGBUS_DIST=dist $(PYTEST) tests/release

test: deps venv jars lint typecheck docs dist $(TEST_INTEROP)
	@[ -n "$(GO)" ] || echo "*** Go is not installed: SKIPPING the interop tests (tests/interop); install Go, then run 'make interop' ***"
	MSGBUS_DIST=dist $(PYTEST) tests $(TEST_IGNORE) --ignore=tests/faults --ignore=tests/chaos
	MSGBUS_KAFKA_VERSION=$(TEST_3X_VERSION) $(PYTEST) tests/behaviour -k TestKafka
	$(PYTEST) tests/faults
	$(PYTEST) tests/chaos
	$(MAKE) bench-smoke

# Benchmarks (bench/): the full run writes bench/results/ (results.md, results.json, the charts);
# the smoke run takes seconds, checks no target, and keeps the benchmarks from rotting.
bench: deps venv jars
	$(PY) -m bench

bench-smoke: deps venv jars
	$(PY) -m bench --smoke

# What a join and a leave cost a group under each group_protocol (4 members, 10k msg/s, 8
# partitions, a fifth joins then leaves): bench/results/rebalance.{md,json,png}. ROUNDS= runs per protocol.
ROUNDS ?= 3
bench-rebalance: deps venv jars
	$(PY) -m bench.rebalance --rounds $(ROUNDS)

demo: deps venv jars
	$(PY) examples/demo.py

kafka-start: jars
	$(VENV)/bin/msgbus kafka start

kafka-stop: venv
	$(VENV)/bin/msgbus kafka stop

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
