"""CSV import and reps: matched by email or name, else kept as named reps; ambiguous names are
bad rows; /kpi rep link re-credits imported events, rollups and deals."""

from __future__ import annotations

import pytest

from storage.reps import link_rep, list_named_reps
from storage.workspaces import ensure_user, ensure_workspace
from tests.bot.transfer.support import (
    HEADER,
    NOW,
    account_rows,
    deal_rows,
    event_tuples,
    prepare_people,
    rollup_rows,
    run_import,
    users,
    write,
)

# ---------------------------------------------------------------------------------------------
# Reps: matched by email or name, else named reps; /kpi rep link re-credits them
# ---------------------------------------------------------------------------------------------


def test_reps_are_matched_by_email_or_name_or_kept_as_named_reps(database, tmp_path):
    prepare_people(database, "slack:TR")
    body = ("2026-10-05,call,1,,,,,ADA@EXAMPLE.COM,,,\n"
            "2026-10-05,call,1,,,,,  bjørn   ødegård ,,,\n"
            "2026-10-05,call,1,,,,,UBJORN,,,\n"
            "2026-10-05,call,1,,,,,José Núñez,,,\n"
            "2026-10-05,call,1,,,,,jose nunez,,,\n"
            "2026-10-05,call,1,,,,,new.rep@example.com,,,\n")
    result = run_import(database, write(tmp_path, HEADER + "\n" + body), "slack:TR")
    assert result.problems == []
    credited = [t[9] for t in sorted(event_tuples(database, "slack:TR"), key=lambda t: t[1])]
    assert sorted(credited) == sorted(["UADA", "UBJORN", "UBJORN", "rep:jose-nunez",
                                       "rep:jose-nunez", "rep:new-rep-example-com"])
    people = users(database, "slack:TR")
    assert people["rep:jose-nunez"] == ("José Núñez", None)
    assert people["rep:new-rep-example-com"] == ("new.rep@example.com", "new.rep@example.com")
    assert {r.id: r.events for r in list_named_reps(session=database.read().__enter__(),
                                                    workspace_id="slack:TR")} == {
        "rep:jose-nunez": 2, "rep:new-rep-example-com": 1}


def test_ambiguous_names_are_bad_rows(database, tmp_path):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:TAM", platform="slack", now=NOW)
        ensure_user(session=session, workspace_id="slack:TAM", user_id="U1", display_name="Alex")
        ensure_user(session=session, workspace_id="slack:TAM", user_id="U2", display_name="alex")
    result = run_import(database, write(tmp_path, HEADER + "\n2026-10-05,call,1,,,,,Alex,,,\n"),
                        "slack:TAM")
    assert [str(p) for p in result.problems] == [
        'line 2: the name "Alex" matches 2 users (U1, U2); use the user\'s id or email']


def test_link_rep_recredits_events_rollups_and_deals(database, tmp_path):
    body = ("2026-10-01 10:00,lead,1,,,Acme,,Jane Doe,referral,,\n"
            "2026-10-02 10:00,opportunity,1,20000,,Acme,,Jane Doe,,,\n"
            "2026-10-03 10:00,call,5,,,,,Jane Doe,,,\n"
            "2026-10-03 11:00,call,2,,,,,UJANE,,,\n"
            "2026-10-09 10:00,deal-won,1,25000,,Acme,,Jane Doe,,,\n"
            "2026-10-10 10:00,lead,1,,,Globex,,Ada,,,\n")
    path = write(tmp_path, HEADER + "\n" + body)
    for workspace_id, name in (("slack:TL", "J. Doe"), ("slack:TCONTROL", "Jane Doe")):
        with database.write() as session:
            ensure_workspace(session=session, workspace_id=workspace_id, platform="slack",
                             timezone="Europe/Oslo", now=NOW)
            ensure_user(session=session, workspace_id=workspace_id, user_id="UJANE",
                        display_name=name)
        assert run_import(database, path, workspace_id).problems == []
    assert {t[9] for t in event_tuples(database, "slack:TL")} == {"UJANE", "rep:jane-doe",
                                                                  "rep:ada"}
    with database.write() as session:
        linked = link_rep(session=session, workspace_id="slack:TL", rep_id="rep:jane-doe",
                          user_id="UJANE")
    assert (linked.events, linked.deals) == (4, 1)
    assert event_tuples(database, "slack:TL") == event_tuples(database, "slack:TCONTROL")
    assert rollup_rows(database, "slack:TL") == rollup_rows(database, "slack:TCONTROL")
    assert deal_rows(database, "slack:TL") == deal_rows(database, "slack:TCONTROL")
    assert account_rows(database, "slack:TL") == account_rows(database, "slack:TCONTROL")
    assert "rep:jane-doe" not in users(database, "slack:TL")
    # re-importing the file afterwards adds nothing, not even an empty named rep
    again = run_import(database, path, "slack:TL")
    assert again.added == 0 and again.new_users == []
    assert "rep:jane-doe" not in users(database, "slack:TL")


def test_link_rep_refuses_bad_pairs(database):
    from storage.reps import RepError

    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:TL", platform="slack", now=NOW)
        with pytest.raises(RepError, match="not a named rep"):
            link_rep(session=session, workspace_id="slack:TL", rep_id="U1", user_id="U2")
        with pytest.raises(RepError, match="no named rep"):
            link_rep(session=session, workspace_id="slack:TL", rep_id="rep:x", user_id="U2")
