"""The Teams app package: manifest fields Teams checks on upload, icon sizes, the zip."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import zipfile
from pathlib import Path

import pytest

TEAMS = Path(__file__).resolve().parents[3] / "deploy" / "teams"
APP_ID = "00000000-0000-4000-8000-0000000a11ce"


def _package_module():
    spec = importlib.util.spec_from_file_location("teams_package", TEAMS / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _depth, color_type = struct.unpack(">IIBB", data[16:26])
    return width, height, color_type


def test_manifest_template():
    manifest = json.loads((TEAMS / "manifest.json").read_text(encoding="utf-8"))
    assert tuple(map(int, manifest["manifestVersion"].split("."))) >= (1, 17)
    schema_version = manifest["manifestVersion"]
    assert manifest["$schema"].endswith(f"/v{schema_version}/MicrosoftTeams.schema.json")
    assert manifest["id"] == "{{TEAMS_APP_ID}}"
    (bot,) = manifest["bots"]
    assert bot["botId"] == "{{TEAMS_APP_ID}}"
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    (commands,) = bot["commandLists"]
    titles = [c["title"] for c in commands["commands"]]
    assert {"kpi log", "kpi funnel", "kpi help"} <= set(titles)
    for command in commands["commands"]:
        assert len(command["title"]) <= 32 and len(command["description"]) <= 128
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["name"]["full"]) <= 100
    assert len(manifest["description"]["short"]) <= 80
    assert len(manifest["description"]["full"]) <= 4000
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", manifest["accentColor"])
    assert set(re.findall(r"\{\{([A-Z_]+)\}\}", json.dumps(manifest))) == {
        "TEAMS_APP_ID", "KPIBOT_WEBSITE_URL"}


def test_icons_have_the_sizes_teams_requires():
    assert _png_size((TEAMS / "color.png").read_bytes()) == (192, 192, 6)
    assert _png_size((TEAMS / "outline.png").read_bytes()) == (32, 32, 6)
    package = _package_module()
    # the committed icons are exactly what the script generates
    assert (TEAMS / "color.png").read_bytes() == package.color_icon()
    assert (TEAMS / "outline.png").read_bytes() == package.outline_icon()


def test_package_zip(tmp_path):
    package = _package_module()
    out = package.build_package(APP_ID, "https://kpibot.example.com", tmp_path / "app.zip")
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["developer"]["privacyUrl"] == "https://kpibot.example.com"
    assert "{{" not in json.dumps(manifest)


@pytest.mark.parametrize(("app_id", "url"), [("not-a-guid", "https://x.example"),
                                             (APP_ID, "http://x.example")])
def test_package_refuses_bad_values(tmp_path, app_id, url):
    package = _package_module()
    assert package.main(["--app-id", app_id, "--website-url", url,
                         "--out", str(tmp_path / "x.zip")]) == 2
    assert not (tmp_path / "x.zip").exists()
