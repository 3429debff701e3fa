# o3v — see `make help`. Logic lives in Python modules; targets stay one or two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.o3v-installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONDONTWRITEBYTECODE ?= 1

# Images go where the compiled pipeline will look for them: O3V_REGISTRY (manifests/overlays/<overlay>/platform.env).
REGISTRY ?= $(or $(O3V_REGISTRY),localhost:5000/o3v)
STAGE ?= eval
MODEL ?=
DATA ?=
CRON ?= 0 0 3 * * 1
OVERLAY ?= dev
SEED ?= 31337
PYTEST_ARGS ?=

.PHONY: help install test test-slow test-gpu lint fmt bench eval-smoke pipeline-run reproduce unseen stage-run compile schedule images push deploy undeploy clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The venv is created once; the stamp depends on pyproject.toml so a second `make test` installs nothing.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	$(PY) -m o3v.torchvision_cpu --install-pth
	@command -v kubectl >/dev/null || bash scripts/install-kubectl.sh || echo "kubectl not installed: manifest build tests will say so"
	@touch $(STAMP)

install: $(STAMP) ## create .venv (CPU torch first, then o3v editable with all extras)

test: $(STAMP) ## fast suite + the one tiny end-to-end pipeline (offline, CPU)
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP) ## slow end-to-end tests
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-gpu: $(STAMP) ## GPU tests (skipped without CUDA)
	$(PY) -m pytest -m gpu $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP) ## ruff format + autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## run every bench/*.py and print their tables
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

eval-smoke: $(STAMP) ## tiny model on the synthetic V-STaR/TVGBench/VideoMME files -> out/eval-smoke/report
	$(PY) -m o3v.eval.smoke --out out/eval-smoke

pipeline-run: $(STAMP) ## run the whole DAG locally (or submit to $$KFP_HOST when set)
	$(PY) -m pipelines.run

# Parameters as pipeline-run: make reproduce ARGS="--set 'seeds=[0,1,2,3]' --set eval_limit=200 --set blind=false"
ARGS ?=
reproduce: $(STAMP) ## SFT vs SFT+GSPO ablation, 3 seeds (~54 min on 2 cores, under an hour): table, plot, HTML page
	$(PY) -m pipelines.reproduce $(ARGS)

# The published model on a world no run used (the default run's world is seed 0): exit 1 when a bar is missed.
unseen: $(STAMP) ## o3v-model@latest on a world from a new seed: make unseen SEED=31337 -> out/unseen/seed-<SEED>
	$(VENV)/bin/o3v artifacts fetch o3v-model@latest --out out/unseen/model
	$(VENV)/bin/o3v eval unseen --model out/unseen/model --seed $(SEED) --out out/unseen/seed-$(SEED)

stage-run: $(STAMP) ## rerun one stage: make stage-run STAGE=eval MODEL=<uri> [DATA=<uri>]
	$(PY) -m pipelines.run --stage $(STAGE) --model "$(MODEL)" --data "$(DATA)"

compile: $(STAMP) ## write every pipeline's IR YAML to build/pipelines/
	$(PY) -m pipelines.compile --out build/pipelines

schedule: $(STAMP) ## recurring retraining on $$KFP_HOST: make schedule CRON="0 0 3 * * 1"
	$(PY) -m pipelines.schedule --cron "$(CRON)"

images: ## build the CPU and CUDA images (needs a Docker engine)
	bash images/build.sh build $(REGISTRY)

push: ## push the images: make push REGISTRY=...
	bash images/build.sh push $(REGISTRY)

deploy: ## kubectl apply -k manifests/overlays/$(OVERLAY)
	kubectl apply -k manifests/overlays/$(OVERLAY)

# Only objects labelled part-of=o3v: the shared kubeflow Namespace (KFP itself) and the checkpoint volume stay.
undeploy: ## kubectl delete -k manifests/overlays/$(OVERLAY) (o3v-labelled objects only)
	kubectl delete -k manifests/overlays/$(OVERLAY) -l app.kubernetes.io/part-of=o3v

clean: ## remove build outputs (keeps .venv)
	rm -rf build out local_outputs .pytest_cache
