"""`kpibot token create|list|revoke`: the per-workspace tokens of the events API.

`create` prints the new token once, alone on stdout (`TOKEN=$(kpibot token create ...)`); only
an HMAC of it keyed with KPIBOT_TOKEN_KEY is stored. `list` shows names, creation and last use,
never a token. `revoke` makes the token answer 401 from then on. See README "Events API".
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.engine import Database


def add_parser(commands) -> None:
    """Add `token` with its actions to the `kpibot` subcommands."""
    token = commands.add_parser(
        "token", help="API tokens for the events API: create, list, revoke",
        description=__doc__.split("\n\n")[0])
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--workspace", "-w", required=True,
                        help="workspace id, e.g. slack:T0123 (created when new)")
    create.add_argument("--name", required=True, help="a name to list and revoke it by, "
                        "e.g. zapier")
    listing = actions.add_parser("list", help="names, creation and last use of the tokens")
    listing.add_argument("--workspace", "-w", help="only this workspace's tokens")
    revoke = actions.add_parser("revoke", help="revoke a token: it gets 401 from then on")
    revoke.add_argument("--workspace", "-w", required=True, help="workspace id")
    revoke.add_argument("--name", required=True, help="the token's name")
    token.set_defaults(run=run, needs_schema=needs_schema)


def needs_schema(args: argparse.Namespace) -> bool:
    return True


def run(args: argparse.Namespace, settings: Settings, *, out=sys.stdout, err=sys.stderr,
        now: datetime | None = None) -> int:
    from bot.settings import SettingsError
    from storage.api_tokens import TokenError, list_tokens, revoke_token
    from storage.engine import Database

    now = now or datetime.now(UTC)
    database = Database.from_url(settings.database_url)
    try:
        if args.token_command == "create":
            return _create(args, settings, database, out, err, now)
        if args.token_command == "revoke":
            with database.write() as session:
                revoke_token(session=session, workspace_id=args.workspace, name=args.name,
                             now=now)
            out.write(f"revoked token {args.name.strip()} of {args.workspace}: requests "
                      "with it get 401 from now on\n")
            return 0
        with database.read() as session:
            tokens = list_tokens(session=session, workspace_id=args.workspace)
        _print_list(tokens, out)
        return 0
    except TokenError as error:
        raise SettingsError(str(error)) from None
    finally:
        database.dispose()


def _create(args, settings: Settings, database: Database, out, err, now: datetime) -> int:
    from storage.api_tokens import create_token
    from storage.models import Workspace
    from storage.workspaces import ensure_workspace

    key = settings.require_token_key()
    with database.write() as session:
        existed = session.get(Workspace, args.workspace) is not None
        if not existed:
            platform = args.workspace.partition(":")[0]
            ensure_workspace(session=session, workspace_id=args.workspace,
                             platform=platform if platform in ("slack", "teams") else "api",
                             timezone=settings.timezone, currency=settings.currency,
                             fiscal_year_start=settings.fiscal_year_start, now=now)
        token = create_token(session=session, key=key, workspace_id=args.workspace,
                             name=args.name, now=now)
    if not existed:
        err.write(f"workspace {args.workspace} created (time zone {settings.timezone}, "
                  f"currency {settings.currency})\n")
    err.write(f"token {args.name.strip()} for {args.workspace}; it is shown only this once, "
              "store it now (send it as: Authorization: Bearer TOKEN)\n")
    out.write(token + "\n")
    return 0


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at is not None else "never"


def _print_list(tokens, out) -> None:
    if not tokens:
        out.write("no API tokens (kpibot token create --workspace W --name NAME)\n")
        return
    rows = [("WORKSPACE", "NAME", "CREATED", "LAST USED", "STATUS")]
    rows += [(t.workspace_id, t.name, _when(t.created_at), _when(t.last_used_at),
              f"revoked {_when(t.revoked_at)}" if t.revoked_at else "live") for t in tokens]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                  + "  " + row[-1] + "\n")
