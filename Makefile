# Every target depends on the virtual environment, so a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NAME ?= offline_week

.PHONY: install test slow scenario e2e differential conformance compare lint bench fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The suite without the slow tests (pyproject.toml's addopts deselect them) ...
test: $(STAMP)
	$(BIN)/pytest

# ... and only them: month-long simulations, big live runs and whole-CLI runs over many
# scenarios, profiles or seeds (CI runs both).
slow: $(STAMP)
	$(BIN)/pytest -m slow

scenario: $(STAMP)
	$(BIN)/syncsim run scenarios/$(NAME).yaml

e2e: $(STAMP)
	$(BIN)/syncsim e2e scenarios --all-profiles

# Every library scenario under every profile, simulated and live against syncsim serve with
# that profile: same verdicts and counts, or a difference the gate explains (README, Live mode).
differential: $(STAMP)
	SYNCSIM_JWT_SECRET=$${SYNCSIM_JWT_SECRET:-syncsim-differential-gate-secret-0123456789} \
		$(BIN)/syncsim differential scenarios

# The conformance suite's mutation test: every probe passes against a syncsim serve of its
# own, and fails against one that breaks the probe's rule (README: Conformance).
conformance: $(STAMP)
	SYNCSIM_JWT_SECRET=$${SYNCSIM_JWT_SECRET:-syncsim-differential-gate-secret-0123456789} \
		$(BIN)/syncsim probe --mutation

# make compare BASE=reports/x/latest/proposed NEW=reports/x/latest/legacy [TOLERANCE=10] [OUT=dir]
compare: $(STAMP)
	@test -n "$(BASE)" -a -n "$(NEW)" || { echo "usage: make compare BASE=DIR NEW=DIR [TOLERANCE=PCT] [OUT=DIR]" >&2; exit 2; }
	$(BIN)/syncsim compare $(BASE) $(NEW) $(if $(TOLERANCE),--tolerance $(TOLERANCE)) $(if $(OUT),--out $(OUT))

# The ratios against baselines of the same run, the scale family (1k, 10k, 100k and 1M
# writes; the 1M run is stopped once both its targets are missed, SCALE_ARGS=--full lets it
# finish), then a sweep at 1 and 2 workers. Every table prints; exits 1 if any misses a target.
bench: $(STAMP)
	$(BIN)/python bench/run.py; ratios=$$?; \
	$(BIN)/python bench/scale.py $(SCALE_ARGS); scale=$$?; \
	$(BIN)/python bench/sweep_scale.py; sweep=$$?; \
	exit $$(( ratios | scale | sweep ))

# Hostile scenario documents at the loader, hostile frames at the reference server; prints the
# counts, exits 1 unless every one is 0.
# make fuzz [FUZZ_ARGS="--frames 100000 --socket-frames 10000 --rest-bodies 1000 --seed 1"]
#           [LOADER_ARGS="--documents 10000 --seed 1"]
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_loader.py $(LOADER_ARGS)
	$(BIN)/python bench/fuzz_server.py $(FUZZ_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check simulator tests bench
	$(BIN)/ruff format --check simulator tests bench
	$(BIN)/mypy --strict simulator

clean:
	rm -rf $(VENV) reports/*/
