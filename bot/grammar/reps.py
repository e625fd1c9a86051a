"""`/kpi rep list` and `/kpi rep link REP @user`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.grammar.commands import RepLinkCommand, RepListCommand
from bot.grammar.errors import UsageError, did_you_mean, limited, q
from bot.grammar.reading import Context, mention, no_arguments, once
from bot.grammar.tokens import Token
from reports.events import MAX_REP_NAME
from reports.text import Text

_REP_ACTIONS = ("list", "link")


def parse_rep(tokens: Sequence[Token], ctx: Context) -> RepListCommand:
    """`/kpi rep list` (`rep link` is its own command: parse_rep_link)"""
    if not tokens:
        raise UsageError(Text("{command} needs an action: {first} or {second}.",
                              command="/kpi rep", first="list", second="link"))
    action = tokens[0].word
    if action == "list":
        no_arguments(tokens[1:], "rep list")
        return RepListCommand(public=ctx.public)
    word = tokens[0].text
    raise UsageError(Text("{word} is not a rep action.", word=q(word))
                     + did_you_mean(word, _REP_ACTIONS)
                     + Text("Actions: {actions}.", actions=", ".join(_REP_ACTIONS)))


def parse_rep_link(tokens: Sequence[Token], ctx: Context) -> RepLinkCommand:
    """`/kpi rep link REP @user`, in either order; REP is `rep:jane-doe`, `jane-doe` or
    `"Jane Doe"` (a name with spaces in quotes)."""
    user: str | None = None
    rep: list[Token] = []
    for token in tokens:
        person = mention(token, ctx)
        if person is not None:
            once(user, token, Text("person"))
            user = person
        else:
            rep.append(token)
    if len(rep) > 1 and (rep[0].quoted or rep[1].quoted):
        raise UsageError(Text("{word} is a second rep; link one rep at a time.",
                              word=q(rep[1].text)))
    if len(rep) > 1:
        words = " ".join(token.text for token in rep)
        raise UsageError(Text("Give one named rep; {word} is one word too many. Put a name with "
                              "spaces in quotes: {quoted}.", word=q(rep[1].text),
                              quoted=q(words)))
    if not rep:
        raise UsageError(Text('Which named rep? Put it after {words}, like "Jane Doe" or '
                              "rep:jane-doe; {command} shows them.", words="rep link",
                              command="/kpi rep list"))
    if user is None:
        raise UsageError(Text("Link {rep} to whom? Name the chat user with @ after the rep.",
                              rep=q(rep[0].text)))
    name = limited(rep[0].text, Text("rep name"), MAX_REP_NAME)
    return RepLinkCommand(rep=name, user_id=user, public=ctx.public)


# ---------------------------------------------------------------------------------------------
# Dispatch
