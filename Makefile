# Second Medical Opinion assistant. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-fast train eval bench lint chat shell venv model clean

## venv: create .venv with Python 3.10 and install (only when pyproject/constraints change)
venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt scripts/bootstrap-venv.sh
	@scripts/bootstrap-venv.sh
	@touch $@

## model: make sure models/ holds the model for the current inputs (trains only when stale)
model: venv
	@$(PY) -m bot.model path >/dev/null

## train: same as model (kept for habit: `rasa train` also works)
train: model

## run: start the action server and the public server on 127.0.0.1 (Ctrl-C stops all)
run: model
	@$(PY) -m bot.launcher

## chat: talk to the running assistant from this terminal
chat: venv
	@$(PY) -m bot.chat

## shell: Rasa's own shell (needs the action server: runs ours in the background on 5055; both
## read the per-run secret SMO_ACTION_TOKEN, endpoints.yml hands it to Rasa); files private
shell: model
	@umask 077; mkdir -p var; chmod 700 var; \
	  export SMO_ACTION_TOKEN="$${SMO_ACTION_TOKEN:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')}"; \
	  $(PY) -m bot.action_server --actions actions --port 5055 >var/actions-shell.log 2>&1 & \
	  trap "kill $$!" EXIT; $(VENV)/bin/rasa shell --model "$$($(PY) -m bot.model path)" \
	  --interface 127.0.0.1 --port 5007

## test: the whole suite, slow end-to-end tests included
test: model
	@$(PY) -m pytest -p no:cacheprovider

## test-fast: unit tests only
test-fast: venv
	@$(PY) -m pytest -p no:cacheprovider -m "not slow"

## eval: intent accuracy and macro-F1 per language on the held-out sets in tests/nlu, then the
## screening on tests/screening_eval, then the whole conversations of tests/conversations against the
## product it starts (dev and held-out apart; figures written to docs/results/, not gated)
eval: model
	@$(PY) -m bot.evaluate

## bench: throughput, latency, webhook acknowledgement, memory (writes docs/results/bench.md)
bench: model
	@$(PY) -m bot.bench

## lint: ruff
lint: venv
	@$(VENV)/bin/ruff check bot actions channels tests

clean:
	rm -rf var/ models/ .pytest_cache
