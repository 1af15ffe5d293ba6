"""environment.yml and pyproject.toml list the same runtime dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_environment_lists_the_runtime_dependencies() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert names(project["dependencies"]) == names(conda) - {"python", "pip"}
    assert "-e ." in pip  # the package itself, for the `tracemetrics` command
    python = next(d for d in conda if d.startswith("python"))
    assert project["requires-python"].lstrip(">=") in python
