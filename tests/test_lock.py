"""The committed lock (`requirements/agentrt.lock`, what `make setup` installs) must satisfy what
`pyproject.toml` asks for, and hold every dependency of what it pins: otherwise a fresh clone
would either break or quietly take whatever pip resolves that day."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE_THE_LOCK = {"torch"}  # installed by `make setup` from TORCH_SPEC, to pick the CPU or CUDA build


def locked() -> dict[str, str]:
    text = (ROOT / "requirements" / "agentrt.lock").read_text()
    return {canonicalize_name(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def test_every_pin_has_hashes():
    text = (ROOT / "requirements" / "agentrt.lock").read_text()
    pins = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M)
    assert all("--hash=sha256:" in pin for pin in pins if "==" in pin)


def test_the_lock_satisfies_pyproject():
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name in OUTSIDE_THE_LOCK or not (requirement.marker is None or requirement.marker.evaluate()):
            continue
        assert name in pins, f"{name} is in pyproject.toml but not in the lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`")


def test_the_lock_holds_every_dependency_of_what_it_pins():
    """Checked against the installed packages' own metadata, as pip would resolve them here."""
    pins = locked()
    for name in pins:
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            needed = canonicalize_name(requirement.name)
            if needed in OUTSIDE_THE_LOCK:
                continue
            assert needed in pins, f"{name} needs {requirement}, which the lock lacks: run `make lock`"
            assert requirement.specifier.contains(pins[needed], prereleases=True), f"{name} needs {requirement}"
        assert metadata.version(name) == pins[name], f"installed {name} {metadata.version(name)}, locked {pins[name]}"
