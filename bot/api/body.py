"""Reading an API request body safely: size-capped, strict UTF-8, depth-bounded JSON.

Nothing here logs or echoes the body: errors say what is wrong, never what was sent.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from itertools import accumulate

from aiohttp import web


class BodyError(Exception):
    """The body cannot be used; `status` is the HTTP answer (400, 413, 415), str() the reason."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error = status, error


def check_json_type(request: web.Request) -> None:
    """415 unless Content-Type is application/json (charset, if given, utf-8)."""
    if request.content_type != "application/json":
        raise BodyError(415, "unsupported_media_type",
                        "send the body as JSON with Content-Type: application/json")
    charset = request.charset
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise BodyError(415, "unsupported_media_type",
                        f"charset {charset} is not supported: send UTF-8")


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to be over `limit` bytes (before reading it
    when Content-Length says so; otherwise after reading at most limit + 1 bytes)."""
    too_large = BodyError(413, "too_large", f"the body is over {limit:,} bytes; send smaller "
                          "batches")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise too_large
    return b"".join(chunks)


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON `text` (brackets inside strings ignored).

    Counted without recursion, so a body of a million `[` cannot exhaust the stack of the
    parser that would otherwise find out."""
    outside_strings = _STRING.sub("", text)
    return max(accumulate(_STEP[b] for b in _BRACKET.findall(outside_strings)), default=0)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes, *, max_depth: int) -> object:
    """The JSON value of `body`: numbers with a fraction or exponent as exact Decimals.
    Raises BodyError(400) for anything that is not UTF-8 JSON nested at most `max_depth`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(400, "bad_request",
                        f"the body is not UTF-8 (byte {error.start})") from None
    if nesting_depth(text) > max_depth:
        raise BodyError(400, "bad_request", f"the JSON nests deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BodyError(400, "bad_request", f"the body is not valid JSON: {error.msg} (line "
                        f"{error.lineno}, column {error.colno})") from None
    except (ValueError, RecursionError):  # an integer of over 4300 digits, NaN, Infinity
        raise BodyError(400, "bad_request", "the body is not valid JSON: a number in it is "
                        "not a finite number of at most 4300 digits") from None
