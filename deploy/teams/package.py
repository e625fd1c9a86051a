"""Build the Teams app package: `python deploy/teams/package.py --app-id <Microsoft App ID>`.

Fills the placeholders of `deploy/teams/manifest.json`:
  {{TEAMS_APP_ID}}        the bot's Microsoft App ID (the TEAMS_APP_ID setting); also used as
                          the Teams app id
  {{KPIBOT_WEBSITE_URL}}  an https page about your kpibot (developer, privacy and terms links)
and zips manifest.json + color.png (192x192) + outline.png (32x32, white on transparent) into
`kpibot-teams.zip`, ready for Teams "Upload a custom app" or the Teams admin center.
`--icons` only (re)writes the two icons, which are generated here with zlib and struct.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
ACCENT = (0x2E, 0x6B, 0xE6)


def png(width: int, height: int, pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    """An RGBA PNG (8 bits per channel, no interlace) from rows of (r, g, b, a)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel)
                   for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _bars(size: int, x: int, y: int) -> bool:
    """Three rising bars of a bar chart, in a size x size box."""
    unit = size / 16
    for index, top in enumerate((9, 6, 3)):
        left = (2 + index * 4.5) * unit
        if left <= x < left + 3 * unit and top * unit <= y < 14 * unit:
            return True
    return False


def color_icon() -> bytes:
    size = 192
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            inner = 24 <= x < 168 and 24 <= y < 168
            row.append((255, 255, 255, 255) if inner and _bars(144, x - 24, y - 24)
                       else (*ACCENT, 255))
        rows.append(row)
    return png(size, size, rows)


def outline_icon() -> bytes:
    size = 32
    return png(size, size, [[(255, 255, 255, 255) if _bars(size, x, y) else (0, 0, 0, 0)
                             for x in range(size)] for y in range(size)])


def write_icons(directory: Path = HERE) -> None:
    (directory / "color.png").write_bytes(color_icon())
    (directory / "outline.png").write_bytes(outline_icon())


def render_manifest(app_id: str, website_url: str, template: Path = HERE / "manifest.json") -> str:
    if not GUID.match(app_id):
        raise ValueError("the app id must be the bot's Microsoft App ID (a GUID)")
    if not website_url.startswith("https://"):
        raise ValueError("the website URL must start with https://")
    values = {"TEAMS_APP_ID": app_id, "KPIBOT_WEBSITE_URL": website_url}
    text = PLACEHOLDER.sub(lambda m: values[m.group(1)], template.read_text(encoding="utf-8"))
    json.loads(text)  # still valid JSON
    return text


def build_package(app_id: str, website_url: str, out: Path) -> Path:
    manifest = render_manifest(app_id, website_url)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        archive.writestr("color.png", (HERE / "color.png").read_bytes())
        archive.writestr("outline.png", (HERE / "outline.png").read_bytes())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the kpibot Teams app package.")
    parser.add_argument("--app-id", default=os.environ.get("TEAMS_APP_ID", ""))
    parser.add_argument("--website-url", default=os.environ.get("KPIBOT_WEBSITE_URL", ""))
    parser.add_argument("--out", type=Path, default=Path("kpibot-teams.zip"))
    parser.add_argument("--icons", action="store_true", help="only regenerate the icons")
    args = parser.parse_args(argv)
    if args.icons:
        write_icons()
        return 0
    try:
        path = build_package(args.app_id, args.website_url, args.out)
    except ValueError as problem:
        print(f"kpibot teams package: {problem}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
