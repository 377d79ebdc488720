# lsecflow: two commands do everything on a fresh machine.
#   make run   installs into .venv (once) and runs the workflow on config/config.yaml
#   make test  installs into .venv (once) and runs the test suite
PYTHON ?= python3
VENV   ?= .venv
CONFIG ?= config/config.yaml
CORES  ?= all
SMK_ARGS ?=
PYTEST_ARGS ?=
# tests run in parallel, one worker per core (pytest-xdist); the scheduler in tests/conftest.py keeps
# each file, and the files sharing the finished run, on one worker. XDIST= runs them in one process.
XDIST ?= -n auto --dist loadscope

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint dry-run unlock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,slurm]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	LSECFLOW_SUMMARY_BY_MAKE=1 $(BIN)/snakemake --snakefile Snakefile --configfile $(CONFIG) --cores $(CORES) --rerun-incomplete $(SMK_ARGS)
	@$(BIN)/python -m lsecflow.summary --configfile $(CONFIG)

dry-run: $(STAMP)
	$(BIN)/snakemake --snakefile Snakefile --configfile $(CONFIG) --dry-run --quiet

unlock: $(STAMP)
	$(BIN)/snakemake --snakefile Snakefile --configfile $(CONFIG) --unlock

lint: $(STAMP)
	$(BIN)/snakemake --snakefile Snakefile --configfile $(CONFIG) --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff check workflow tests bench

test: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

clean:
	rm -rf results logs .snakemake
