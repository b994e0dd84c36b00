# Two entry points (README): `make demo` runs the main job, `make test` runs the test suite.
# Both bootstrap ./.venv from requirements.lock (pinned, reproducible) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint dagster mlflow clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@# The `seq` extra (PatchTST baseline) needs torch: installed from a local CPU wheel when the
	@# machine has one (PyPI's Linux torch pulls ~2.5 GB of CUDA wheels); otherwise its tests skip.
	@if ls /opt/wheels/torch-*+cpu-*.whl >/dev/null 2>&1; then \
		$(BIN)/pip install --quiet /opt/wheels/torch-*+cpu-*.whl; \
	else echo "no CPU torch wheel in /opt/wheels: seq extra not installed (its tests skip)"; fi
	touch $(STAMP)

# The dbt manifest the Gold assets are defined from (importing them parses nothing); re-made when a
# dbt model, test, macro or the project file changes.
MANIFEST := dbt/target/manifest.json
$(MANIFEST): $(STAMP) dbt/dbt_project.yml $(shell find dbt/models dbt/macros dbt/tests -type f 2>/dev/null)
	$(BIN)/python -m spymaster_assets.dbt_project >/dev/null

demo: $(MANIFEST)
	$(BIN)/spymaster demo

test: $(MANIFEST)
	$(BIN)/python -m pytest -q -ra

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

dagster: $(MANIFEST)
	@mkdir -p data/dagster_home
	@test -f data/dagster_home/dagster.yaml || cp deploy/dagster.yaml data/dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/data/dagster_home SPYMASTER_LAKE=$(CURDIR)/data/lake \
	SPYMASTER_DUCKDB=$(CURDIR)/data/spymaster.duckdb $(BIN)/dagster dev -w workspace.yaml

mlflow: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/data/mlflow/mlflow.db

clean:
	rm -rf $(VENV) data
