# Two commands do everything on a fresh machine; both bootstrap .venv from requirements.lock first.
.PHONY: demo test test-heavy bench env clean

VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/demo

env:
	@bash scripts/bootstrap.sh

demo: env
	$(BIN)/hwgen doctor
	$(BIN)/hwgen flow --out $(OUT)

test: env
	$(BIN)/python -m pytest

test-heavy: env
	$(BIN)/python -m pytest -m heavy

bench: env
	$(BIN)/python -m pytest benchmarks -m "heavy or not heavy"

clean:
	rm -rf out .pytest_cache
