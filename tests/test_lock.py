"""requirements.lock (what the quick start and CI install) agrees with pyproject.toml (the ranges
people get when they install kpibot as a library): same direct dependencies, every locked
version inside its range, every entry pinned with hashes. Refresh with scripts/lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.7",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
               "os_name": "posix", "extra": ""}


def declared(pyproject: dict) -> list[Requirement]:
    """Runtime dependencies, the test extra and the build backend."""
    project = pyproject["project"]
    return [Requirement(text) for text in (*project["dependencies"],
                                           *project["optional-dependencies"]["test"],
                                           *pyproject["build-system"]["requires"])]


def parse_lock(text: str) -> list[dict]:
    """One entry per pinned requirement: name, version, marker, hashes and who asked for it."""
    entries: list[dict] = []
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[-1]):
        head = block.strip().splitlines()[0] if block.strip() else ""
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", head)
        if not match:
            continue
        via = re.search(r"# via (.*)", block)
        entries.append({
            "name": canonicalize_name(match[1]), "version": Version(match[2]),
            "marker": Marker(match[3]) if match[3] else None,
            "hashes": re.findall(r"--hash=sha256:[0-9a-f]{64}", block),
            "via": via[1] if via else "",
        })
    return entries


def disagreements(pyproject: dict, lock_text: str) -> list[str]:
    """What a reader would have to fix, one line each (empty when they agree)."""
    entries = parse_lock(lock_text)
    problems = [f"{e['name']} has no hash" for e in entries if not e["hashes"]]
    wanted = {canonicalize_name(r.name): r for r in declared(pyproject)}
    for name, requirement in sorted(wanted.items()):
        pins = [e for e in entries if e["name"] == name
                and (e["marker"] is None or e["marker"].evaluate(ENVIRONMENT))]
        if not pins:
            problems.append(f"{name} is in pyproject.toml but not in requirements.lock")
        for pin in pins:
            if not requirement.specifier.contains(pin["version"], prereleases=True):
                problems.append(f"{name}=={pin['version']} is outside {requirement.specifier}")
    direct = {e["name"] for e in entries
              if "kpibot (pyproject.toml)" in e["via"] or "build-system" in e["via"]}
    problems += [f"{name} is locked as a direct dependency but not in pyproject.toml"
                 for name in sorted(direct - set(wanted))]
    return problems


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _lock() -> str:
    return (ROOT / "requirements.lock").read_text(encoding="utf-8")


def test_the_lock_and_pyproject_agree():
    assert disagreements(_pyproject(), _lock()) == []


def test_a_dependency_added_to_pyproject_only_is_caught():
    pyproject = _pyproject()
    pyproject["project"]["dependencies"].append("httpx>=0.27")
    assert disagreements(pyproject, _lock()) == [
        "httpx is in pyproject.toml but not in requirements.lock"]


def test_a_dependency_removed_from_pyproject_only_is_caught():
    pyproject = _pyproject()
    pyproject["project"]["dependencies"] = [
        d for d in pyproject["project"]["dependencies"] if not d.startswith("jinja2")]
    assert disagreements(pyproject, _lock()) == [
        "jinja2 is locked as a direct dependency but not in pyproject.toml"]


def test_a_range_the_locked_version_falls_outside_is_caught():
    pyproject = _pyproject()
    pyproject["project"]["dependencies"] = [
        "babel>=99" if d.startswith("babel") else d for d in pyproject["project"]["dependencies"]]
    (problem,) = disagreements(pyproject, _lock())
    assert problem.startswith("babel==") and problem.endswith("is outside >=99")


def test_an_entry_without_hashes_is_caught():
    unhashed = re.sub(r"(jinja2==[^\n]*?) \\\n(\s+--hash=[^\n]*\n)+", r"\1\n", _lock())
    assert "jinja2 has no hash" in disagreements(_pyproject(), unhashed)
