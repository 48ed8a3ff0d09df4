# Two commands do all the set-up on a fresh machine:
#   make serve   -- create .venv, install, start the gateway on its embedded store
#   make test    -- create .venv, install, run the whole test suite
# (and make fake-upstream, the first command of the README's "Try it")
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: serve fake-upstream test lint bench bench-smoke wrk clean lock models

$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/gateway serve

# The fake AI/ML API of "Try it" (no key or network needed); prints where it listens.
fake-upstream: $(STAMP)
	$(VENV)/bin/gateway fake-upstream

test: $(STAMP)
	@command -v redis-server >/dev/null || { echo "tests need redis-server: apt-get install redis-server"; exit 1; }
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP) wrk
	$(PY) -m bench

bench-smoke: $(STAMP) wrk
	$(PY) -m bench --smoke

# The load generator (Debian's wrk): installed when missing and make runs as root.
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
		{ echo "the benchmark needs wrk: apt-get install wrk"; exit 1; }

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Pin the runtime dependencies (and theirs) as resolved today, in a throw-away venv.
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/pip install --quiet .
	{ sed -n 1,2p requirements.lock; .lock-venv/bin/pip freeze --exclude imagegw; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

# The built-in model registry from the catalogue, and the README's model table from it.
models: $(STAMP)
	$(VENV)/bin/gateway models import gateway/testing/data/aiml-catalog.json -o gateway/models/data/models.json
	$(PY) -c 'import pathlib, sys; from gateway.models import table; from gateway.models.registry import Registry; p = pathlib.Path("README.md"); p.write_text(table.splice(p.read_text(), table.markdown(Registry.load())))'
