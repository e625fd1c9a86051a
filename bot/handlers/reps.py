"""`/kpi rep list|link` — named reps: people in an imported file who match no chat user.

An import credits each person of the file to the chat user with that id, email or display name.
A person who matches nobody becomes a named rep, with an id like rep:jane-doe, and keeps the
events until an admin links the named rep to the chat user.
`/kpi rep list` shows the named reps with their email and how many events each has.
`/kpi rep link REP @user` (admins) credits all of the named rep's events and deals to the chat
user and removes the named rep. REP is the id (rep:jane-doe), the short form (jane-doe) or the
name in quotes ("Jane Doe").
"""

from __future__ import annotations

import difflib

from bot.core import Invocation
from bot.grammar import CommandSpec, RepLinkCommand, RepListCommand
from bot.grammar.reps import parse_rep, parse_rep_link
from bot.replies import Reply, Section, error_reply, mention
from reports.format import format_number
from reports.i18n import Translator
from storage.models import User
from storage.reps import NAMED_REP_PREFIX, NamedRep, RepError, link_rep, list_named_reps, rep_slug

MAX_ROWS = 100  # named reps shown by /kpi rep list


def _link_example(rep: NamedRep | None, user: str = "@jane") -> str:
    name = rep.display_name if rep is not None else "Jane Doe"
    if not name or '"' in name:
        return f"/kpi rep link {rep.id} {user}"
    return f'/kpi rep link "{name}" {user}'


def handle_rep_list(command: RepListCommand, invocation: Invocation) -> Reply:
    """`/kpi rep list`: the named reps not yet linked to a chat user, most events first."""
    t = invocation.t
    with invocation.context.database.read() as session:
        reps = list_named_reps(session=session, workspace_id=invocation.workspace.id)
    if not reps:
        return Reply(text=t.gettext("No named reps: every person credited in this workspace is "
                                    "a chat user."),
                     sections=(Section(context=t.gettext(
                         "An import creates a named rep (like {example}) for a person in the "
                         "file who matches no chat user by id, email or name; an admin then "
                         "links it to the chat user: {command}", example="rep:jane-doe",
                         command=_link_example(None))),))
    reps = sorted(reps, key=lambda r: (-r.events, r.id))
    table = [(t.gettext("rep"), t.gettext("name"), t.gettext("email"), t.gettext("events"))]
    table.extend((r.id, r.display_name or "—", r.email or "—",
                  format_number(r.events, t.locale)) for r in reps[:MAX_ROWS])
    left = len(reps) - MAX_ROWS
    more = t.ngettext("…and {count} more", "…and {count} more", left,
                      count=format_number(left, t.locale)) + " · " if left > 0 else ""
    how = t.gettext("An admin links a named rep to its chat user, which credits its events and "
                    "deals to them: {command}", command=_link_example(reps[0], "@user"))
    return Reply(
        text=t.ngettext("{count} named rep not linked to a chat user",
                        "{count} named reps not linked to a chat user", len(reps),
                        count=format_number(len(reps), t.locale)),
        sections=(Section(table=tuple(table)), Section(context=more + how)),
    )


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _find(reps: list[NamedRep], text: str) -> list[NamedRep]:
    """The named reps that `text` names: by id, short form (slug), display name or email."""
    exact = [r for r in reps if r.id == text]
    if exact:
        return exact
    key = _norm(text)
    ids = {key, NAMED_REP_PREFIX + rep_slug(text)}
    if key.startswith(NAMED_REP_PREFIX):
        ids = {key}  # an id is only an id
    return [r for r in reps if r.id.casefold() in ids or _norm(r.display_name or "") == key
            or _norm(r.email or "") == key]


def _close(reps: list[NamedRep], text: str) -> list[NamedRep]:
    """Up to 5 named reps whose id, short form or name resembles `text`, closest first."""
    labels: dict[str, NamedRep] = {}
    for r in reps:
        for label in (r.id, r.id.removeprefix(NAMED_REP_PREFIX), r.display_name or ""):
            if label:
                labels.setdefault(_norm(label), r)
    found = difflib.get_close_matches(_norm(text), list(labels), n=10, cutoff=0.6)
    return list(dict.fromkeys(labels[label] for label in found))[:5]


def handle_rep_link(command: RepLinkCommand, invocation: Invocation) -> Reply:
    """`/kpi rep link REP @user` (admins): credit a named rep's events and deals to a chat user."""
    t = invocation.t
    usage, example = REP_LINK.usage, REP_LINK.example
    if not invocation.is_admin():
        return error_reply(t.gettext("Only admins can link named reps; nothing was changed."),
                           usage=usage, example=example, t=t)
    workspace_id = invocation.workspace.id
    try:
        with invocation.context.database.write() as session:  # one transaction: all or nothing
            reps = list_named_reps(session=session, workspace_id=workspace_id)
            found = _find(reps, command.rep)
            if not found:
                return _unknown_rep(command.rep, reps, t)
            if len(found) > 1:
                ids = ", ".join(r.id for r in found[:5])
                return error_reply(t.gettext('"{rep}" names {count} named reps ({ids}); use the '
                                             "id. Nothing was changed.", rep=command.rep,
                                             count=len(found), ids=ids),
                                   usage=usage, example=f"/kpi rep link {found[0].id} @user",
                                   t=t)
            rep = found[0]
            result = link_rep(session=session, workspace_id=workspace_id, rep_id=rep.id,
                              user_id=command.user_id, now=invocation.now)
            user = session.get(User, (workspace_id, command.user_id))
            who = (user.display_name if user is not None and user.display_name
                   else mention(command.user_id))
    except RepError as problem:  # raised before anything is written; rolled back anyway
        return error_reply(t.gettext("Cannot link: {problem}. Nothing was changed.",
                                     problem=problem), usage=usage, example=example, t=t)
    name = f"{rep.display_name} ({rep.id})" if rep.display_name else rep.id
    events = t.ngettext("{count} event", "{count} events", result.events,
                        count=format_number(result.events, t.locale))
    deals = t.ngettext("{count} deal", "{count} deals", result.deals,
                       count=format_number(result.deals, t.locale))
    return Reply(
        text=t.gettext("Linked {rep} to {user}: {events} and {deals} now count for them.",
                       rep=name, user=who, events=events, deals=deals),
        sections=(Section(context=t.gettext("The named rep {rep} is removed; re-importing the "
                                            "same file adds nothing.", rep=rep.id)),),
        mentions=(command.user_id,),
    )


def _unknown_rep(text: str, reps: list[NamedRep], t: Translator) -> Reply:
    usage, example = REP_LINK.usage, REP_LINK.example
    if not reps:
        return error_reply(t.gettext('There is no named rep "{rep}": this workspace has none '
                                     "(imports create them for people who match no chat user). "
                                     "Nothing was changed.", rep=text),
                           usage=usage, example=example, t=t)
    close = _close(reps, text)
    if close:
        names = ", ".join(f"{r.display_name} ({r.id})" if r.display_name else r.id
                          for r in close)
        hint = t.gettext("Did you mean {names}?", names=names)
    else:
        hint = t.gettext("It may be linked already; {command} shows the named reps.",
                         command="/kpi rep list")
    return error_reply(t.gettext('There is no named rep "{rep}". {hint} Nothing was changed.',
                                 rep=text, hint=hint),
                       usage=usage, example=_link_example((close or reps)[0], "@user"), t=t)


__all__ = ["handle_rep_link", "handle_rep_list"]


REP = CommandSpec(
    word="rep", command=RepListCommand, parse=parse_rep, handle=handle_rep_list,
    help="""`/kpi rep list` shows the named reps an import created (people in the file who match
    no chat user, with ids like rep:jane-doe), with their email and events.
    `/kpi rep link REP @user` (admins) credits a named rep's events and deals to the chat user.""",
    usage="/kpi rep list|link", example="/kpi rep list",
    summary="`list`: the named reps an import created (people in the file who match no chat "
            "user), with their email and events; `link`: see below",
    guesses_workspace=True,  # (and `/kpi rep link`: the same first word, bot/core.py)
)
REP_LINK = CommandSpec(
    word="rep link", command=RepLinkCommand, parse=parse_rep_link, handle=handle_rep_link,
    usage="/kpi rep link REP @user", example='/kpi rep link "Jane Doe" @alice',
    summary="admins: credit a named rep's events and deals to the chat user; `REP` is "
            '`rep:jane-doe`, `jane-doe` or `"Jane Doe"`',
    help="""(admins) Credits all of the named rep's events and deals to the chat user and
    removes the named rep. REP is the id (rep:jane-doe), the short form (jane-doe) or the name
    in quotes ("Jane Doe"); `/kpi rep list` shows them.""")
