# The two commands of the README: `make demo` (install, then build a dataset from sample clips)
# and `make test` (install, then run the test suite). Install is skipped while nothing changed.
PY := .venv/bin/python
STAMP := .install-stamp

.PHONY: install demo test bench
install: $(STAMP)
$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh
	touch $@

demo: install
	bash scripts/demo.sh

test: install
	$(PY) -m pytest -q tests

# bench_gpu.py needs a GPU and the paper's weights: run it by hand where they are
bench: install
	for b in benchmarks/bench_*.py; do [ $$b = benchmarks/bench_gpu.py ] || $(PY) $$b || exit 1; done
