# Every target sets itself up on a fresh machine: `make run` and `make test` are all you need.
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
VENDOR := static/vendor
CHROMIUM := /usr/bin/chromium
NGINX := /usr/sbin/nginx

.PHONY: install run sign-ins test check bench clean system-packages dist

install: $(VENV)/.installed $(VENDOR)/htmx.min.js $(VENDOR)/ws.js

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

$(VENDOR)/htmx.min.js: node_modules/.installed
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $@

$(VENDOR)/ws.js: node_modules/.installed
	mkdir -p $(VENDOR)
	cp node_modules/htmx-ext-ws/dist/ws.js $@

run: install
	$(VENV)/bin/dashboard demo --host $(HOST) --port $(PORT)

# The demo's user names and passwords, printed again (they stay the same across restarts).
sign-ins: install
	@$(VENV)/bin/dashboard demo --sign-ins --host $(HOST) --port $(PORT)

# Debian's Chromium (browser tests), nginx and openssl (the tests behind deploy/'s nginx site).
system-packages:
	@if [ -x $(CHROMIUM) ] && [ -x $(NGINX) ] && command -v openssl >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium nginx-light openssl >/dev/null; \
	else \
		echo "Missing: install them with: sudo apt-get install -y chromium nginx-light openssl"; \
		exit 1; \
	fi

# Two workers for the tests without a browser (each module stays on one worker); the browser
# tests after them, one at a time: Chromium on a loaded two-core machine misses its deadlines.
test: install system-packages
	$(PY) -m pytest -q -n 2 --dist loadscope -m "not browser"
	$(PY) -m pytest -q -m browser

# A wheel and an sdist in dist/, carrying the templates, the static files and htmx.
dist: install
	rm -rf dist build
	$(PY) -m build --no-isolation --outdir dist .

check: install
	$(VENV)/bin/ruff check dashboard tests bench
	$(VENV)/bin/ruff format --check dashboard tests bench
	$(VENV)/bin/mypy

bench: install
	rm -f /var/tmp/dashboard-bench-results.jsonl
	$(PY) bench/ingest.py
	$(PY) bench/history.py
	$(PY) bench/fanout.py --runs 5
	$(PY) bench/render.py
	$(PY) bench/backup.py
	$(PY) bench/soak.py
	$(PY) bench/tv.py
	$(PY) bench/summary.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) dist build
