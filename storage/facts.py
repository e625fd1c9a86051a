"""`SqlFacts`: the aggregate SQL behind the KPI catalog (reports' `Facts` Protocol).

Bound to one workspace; every statement is scoped by `workspace_id`. Everything is aggregated
in the database (COUNT/SUM/GROUP BY) with the same SQLAlchemy Core expressions on SQLite and
PostgreSQL.

Cost follows the window, not the history:
- event totals read `monthly_rollups` for the workspace-local months lying wholly inside
  `[start, end)`, `daily_rollups` for the whole local days of the partial months at the
  edges, and the `events` table (index `ix_events_workspace_occurred`) only for the partial
  days at the edges, all in one UNION ALL statement;
- deal counts and sums (reaching a stage, cohorts, wins, losses, the funnel's counts) read
  `deal_counts` (kept by triggers on `deals`) for the whole UTC months inside the window and
  `deals` for the partial months at its edges (storage/deal_counts.py);
- deal distributions read `deals` through the per-stage timestamp indexes (`ix_deals_lead` ...
  `ix_deals_demo`, and `ix_deals_closed` for wins and losses: a won deal's `closed_at` is its
  `won_at`, a lost deal's its `lost_at`) with range predicates;
- event durations (inbound response times) over at least half a year read the per-month
  histograms of the events' durations, the edges and a few buckets of events
  (storage/event_durations.py, migration 0021);
- stage times, sales cycles and the funnel's medians read the per-month histograms of the
  deals' durations and a few buckets of deals (storage/stage_durations.py);
- customer figures read `accounts` index-only through `ix_accounts_customer_since` /
  `ix_accounts_churned` (storage/customers.py).
Balances at an instant (`customers_at`, `mrr_at`) necessarily add up what came before the
instant; they read the compact tables (accounts, won deals, mrr-change rollups), never every
event.

Customers come from `accounts` (kept by storage/accounts.py in the same transaction as every
event write and void): an account is a customer at t when customer_since < t and (churned_at
is null or churned_at >= t). `accounts` holds each account's current state, so an account that
churned and was won again (churned_at cleared) counts as a customer, with its earlier MRR,
also for instants between that churn and the new win.

Percentiles: linear interpolation between the closest ranks (numpy's default, PostgreSQL's
`percentile_cont`): for n sorted values v[0..n-1] and p in [0, 1], rank r = (n - 1) * p,
result = v[floor(r)] + (v[ceil(r)] - v[floor(r)]) * (r - floor(r)). The median is p = 0.5
(the mean of the two middle values for even n), p90 is p = 0.9. Event durations of a short
period are read and ranked in Python (`_distribution`), of a long one from their monthly
histograms (storage/event_durations.py); deal durations in storage/stage_durations.py. Deal
durations are seconds (float), rounded to milliseconds so that both backends agree
(`seconds_between`).
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from reports.events import Stage
from reports.kpis.facts import DealRow, Distribution, EventSum, Quota
from storage import customers, deal_counts, fact_statements
from storage.deal_counts import NO_SOURCE, check_by
from storage.event_durations import Found, durations, histograms_serve
from storage.event_sums import SUM_KEYS, durations_statement, span_params, sums_statement
from storage.history_settle import REMEMBER_BEFORE
from storage.open_deals import idle_deals_statement, open_deal_counts_statement
from storage.prepared import Prepared
from storage.stage_durations import (
    CYCLE,
    MEASURES,
    Settled,
    Summary,
    histogram_request,
    past_medians,
    percentile,
    percentile_ranks,
    settled_known,
    summaries,
)

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from storage.lite import Reader, WorkspaceRow
    from storage.models import Workspace

MEDIAN_TENTHS = (5,)  # the percentile the stage times' medians read (tenths)


class SqlFacts:
    """The `Facts` of one workspace, computed by SQL through `session`: a SQLAlchemy Session,
    or the light SQLite reader (storage/lite.py), which runs the same statements' compiled
    text by key (`Prepared`)."""

    def __init__(self, *, session: Session | Reader, workspace: Workspace | WorkspaceRow,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.session = session
        self._clock = clock or (lambda: datetime.now(UTC))
        self.workspace_id: str = workspace.id
        self.currency: str = workspace.currency
        self.timezone: str = workspace.timezone
        self._zone = ZoneInfo(workspace.timezone)
        self._dialect = session.get_bind().dialect.name
        self._medians: dict[tuple, dict[Stage, float | None]] = {}
        self._distributions: dict[tuple, dict[int, Distribution]] = {}
        self._history_version: int | None = None  # read once per session
        # Answers another call's statement read too (funnel_counts), each handed out once.
        self._known: dict[tuple, Any] = {}

    # ------------------------------------------------------------------------------ events

    def event_sums(self, kinds: Sequence[str], start: datetime, end: datetime, *,
                   user: str | None = None, by: str | None = None) -> dict[str, EventSum]:
        """Totals of non-void events per kind / user / source (missing source: "other").

        One statement (`_sums`): whole local months from `monthly_rollups`, whole local days
        from `daily_rollups`, partial days from `events`."""
        check_by(by, ("user", "source"))
        totals: dict[str, EventSum] = {}
        for key, sums in self._sums(kinds, start, end, user, SUM_KEYS[by]):
            if by == "source":
                key = key or NO_SOURCE
            totals[key] = totals[key] + sums if key in totals else sums
        return {key: total for key, total in totals.items() if total.events}

    def event_sums_by_kind(self, kinds: Sequence[str], start: datetime, end: datetime, *,
                           user: str | None = None, per_user: bool = False
                           ) -> tuple[dict[str, EventSum], dict[str, dict[str, EventSum]]]:
        """`event_sums` per kind and, with `per_user`, each kind's per user: one statement
        grouped by kind and user (Facts.event_sums_by_kind)."""
        totals: dict[str, EventSum] = {}
        users: dict[str, dict[str, EventSum]] = {kind: {} for kind in kinds} if per_user else {}
        for (kind, rep), sums in self._sums(kinds, start, end, user, ("kind", "user_id")):
            totals[kind] = totals[kind] + sums if kind in totals else sums
            if per_user and sums.events:
                users[kind][rep] = sums
        return {kind: total for kind, total in totals.items() if total.events}, users

    def _sums(self, kinds: Sequence[str], start: datetime, end: datetime, user: str | None,
              keys: tuple[str, ...]) -> list[tuple[Any, EventSum]]:
        """(key, sums) per group of `keys` (columns of the rollups and events) of the kinds'
        non-void events in [start, end): one UNION ALL statement, built once per shape, of
        the partial days at either edge (`events`), the whole days of the partial months at
        either edge (`daily_rollups`) and the whole months (`monthly_rollups`); a part whose
        range is empty reads nothing. Keys of several columns come back as tuples."""
        kinds = tuple(kinds)
        if not kinds or start >= end:
            return []
        params = self._params(user=user, kinds=kinds, **span_params(
            start, end, *self._whole_local_days(start, end), self._local_midnight))
        rows = self._rows(("sums", keys, user is not None),
                          lambda: sums_statement(keys, user is not None), params)
        width = len(keys)
        out = []
        for row in rows:
            events, count, amount, duration = row[width:]
            out.append((row[0] if width == 1 else tuple(row[:width]), EventSum(
                int(events or 0), int(count or 0), int(amount or 0), int(duration or 0))))
        return out

    def event_durations(self, kind: str, start: datetime, end: datetime, *,
                        user: str | None = None, within: float | None = None
                        ) -> tuple[Distribution, int]:
        """Distribution of the non-void `kind` events' durations in the window, and how many
        were <= `within` seconds (0 when `within` is None)."""
        if histograms_serve(start, end, user, within):  # months of histograms, the edges
            found = durations(self.session.connection(), self.workspace_id, kind, start, end,
                              user=user, within=within)
            if found is not None:
                return _distribution_of_seconds(found), found.within
        params = self._params(user=user, kind=kind, start=start, end=end)
        rows = self._rows(("durations", user is not None),
                          lambda: durations_statement(user is not None), params)
        return _distribution(rows, within=within)

    # ------------------------------------------------------------------------------ deals

    # Counts and sums of deals: whole UTC months from deal_counts, the edges from deals
    # (storage/deal_counts.py).

    def deals_reaching(self, stage: Stage, start: datetime, end: datetime, *,
                       user: str | None = None, by: str | None = None) -> dict[str, int]:
        """Deals whose `stage` timestamp is in the window (WON: won deals, won_at in it)."""
        return deal_counts.deals_reaching(self.session, self.workspace_id, stage, start, end,
                                          user=user, by=by)

    def cohort_conversion(self, from_stage: Stage, to_stage: Stage | str, start: datetime,
                          end: datetime, *, user: str | None = None, by: str | None = None
                          ) -> dict[str, tuple[int, int]]:
        """Deals whose `from_stage` timestamp is in the window, and how many of them have
        reached `to_stage` (its timestamp set; "won": outcome won; "lost": outcome lost)."""
        if (from_stage, to_stage, by) == (Stage.LEAD, Stage.WON, None):
            known = self._known.pop(("cohort_conversion", start, end, user), None)
            if known is not None:
                return dict(known)
        return deal_counts.cohort_conversion(self.session, self.workspace_id, from_stage,
                                             to_stage, start, end, user=user, by=by)

    def closed_deals(self, start: datetime, end: datetime, *, user: str | None = None,
                     by: str | None = None) -> dict[str, tuple[int, int, int]]:
        """(won, lost, won amount) of the deals whose final close is in the window."""
        if by is None:
            known = self._known.pop(("closed_deals", start, end, user), None)
            if known is not None:
                return dict(known)
        return deal_counts.closed_deals(self.session, self.workspace_id, start, end,
                                        user=user, by=by)

    def won_amounts(self, start: datetime, end: datetime, *, user: str | None = None,
                    by: str | None = None) -> dict[str, int]:
        """Facts.won_amounts: the wins alone (per rep over years: the losses, per reason and
        competitor, are most of the rows closed_deals reads)."""
        return deal_counts.won_amounts(self.session, self.workspace_id, start, end,
                                       user=user, by=by)

    def wins_without_amount(self, start: datetime, end: datetime, *,
                            user: str | None = None) -> int:
        """Won deals closed in the window without an amount."""
        return deal_counts.wins_without_amount(self.session, self.workspace_id, start, end,
                                               user=user)

    def loss_breakdown(self, start: datetime, end: datetime, *, user: str | None = None
                       ) -> tuple[dict[str, int], dict[str, int]]:
        """Lost deals closed in the window, per reason and per competitor ("(none)")."""
        return deal_counts.loss_breakdown(self.session, self.workspace_id, start, end,
                                          user=user)

    def sales_cycle(self, start: datetime, end: datetime, *, user: str | None = None
                    ) -> Distribution:
        """Seconds from first stage event to win, for deals won in the window
        (storage/stage_durations.py)."""
        return self._durations(CYCLE, start, end, user)

    def stage_time(self, stage: Stage, start: datetime, end: datetime, *,
                   user: str | None = None) -> Distribution:
        """Seconds in `stage` for deals whose next stage (in STAGE_ORDER; demo -> won) was
        reached in the window: next-stage timestamp - stage timestamp. Only forward moves
        count (a loss is not a stage exit); skipped stages are zero-length stays; won is
        terminal (empty distribution). Read through storage/stage_durations.py."""
        stage = Stage(stage)
        if stage is Stage.WON:
            return Distribution()
        return self._durations(MEASURES[stage], start, end, user)

    def _durations(self, measure: int, start: datetime, end: datetime, user: str | None
                   ) -> Distribution:
        """The distribution of `measure` (storage/stage_durations.py) over the window. The
        stage times are read together and remembered for this session (stage-time asks for
        each stage, the funnel for their medians); the sales cycle on its own."""
        group = (CYCLE,) if measure == CYCLE else tuple(MEASURES.values())
        key = (group, start, end, user)
        found = self._distributions.get(key)
        if found is None:
            found = self._distributions[key] = {
                m: _distribution_of(summary) for m, summary in summaries(
                    self.session.connection(), self.workspace_id, group, start, end,
                    user=user, tenths=(5, 9), settled=self._settled()).items()}
        return found[measure]

    def open_deals(self, *, user: str | None = None, stages: Sequence[Stage] | None = None,
                   idle_before: datetime | None = None, limit: int | None = None
                   ) -> list[DealRow]:
        """Open deals at some stage (optionally only at `stages`, only those whose last stage
        change was before `idle_before`, at most `limit`), longest idle first
        (stage_changed_at ascending, then key)."""
        shape = self._open_shape(user, stages, idle_before)
        rows = self._rows(("open_deals", *shape, limit is not None),
                          partial(fact_statements.open_deals, *shape, limit is not None),
                          self._params(user=user, idle_before=idle_before, limit=limit))
        return [DealRow(key=k, name=n, owner_id=o, stage=s, stage_changed_at=at, amount=a)
                for k, n, o, s, at, a in rows]

    def count_open_deals(self, *, user: str | None = None,
                         stages: Sequence[Stage] | None = None,
                         idle_before: datetime | None = None) -> int:
        """How many deals `open_deals` would list without a limit."""
        shape = self._open_shape(user, stages, idle_before)
        return self._count(("count_open_deals", *shape),
                           partial(fact_statements.count_open_deals, *shape),
                           user=user, idle_before=idle_before)

    @staticmethod
    def _open_shape(user: str | None, stages: Sequence[Stage] | None,
                    idle_before: datetime | None) -> tuple:
        """The shape of an open deals' statement (storage/fact_statements.py)."""
        return (user is not None,
                None if stages is None else tuple(Stage(s).value for s in stages),
                idle_before is not None)

    # ------------------------------------------------------- batched: the funnel in 4 queries
    # Each statement is built once per dialect and shape, with bind parameters, and reused:
    # building these SQLAlchemy expressions cost more than running them on a small history.

    def funnel_counts(self, start: datetime, end: datetime, *, user: str | None = None
                      ) -> dict[Stage, tuple[int, int]]:
        """Per stage: deals reaching it in the window and how many of them reached the next
        stage, in one statement (storage/deal_counts.py)."""
        figures = deal_counts.funnel_figures(self.session, self.workspace_id, start, end,
                                             user=user)
        # The funnel asks these next; the same statement read them (this session only).
        self._known[("cohort_conversion", start, end, user)] = figures.lead_to_won
        self._known[("closed_deals", start, end, user)] = figures.closed
        return figures.counts

    def read_ahead_funnel(self, start: datetime, end: datetime, *, user: str | None = None,
                          cohort: bool = False, names: bool = False,
                          stalled: tuple[Mapping[Stage, datetime], int] | None = None,
                          whole: bool = False, strict: bool = False) -> None:
        """PostgreSQL: the funnel's statements that depend on nothing read before them (the
        counts, unless `cohort`; the history version; the period's stage-time histograms
        besides settled months, with the deals since the last hour; with `names`, the
        people's names; with `stalled` = (idle_before, listed), the open and idle deals
        `open_deal_counts` and `idle_deals` would read for them) sent together, in one round
        trip, for the calls that ask for the same statements with the same values next
        (storage/pg_batch.py). SQLite, whose statements cost no round trip: nothing.

        `whole`: the caller reads nothing but the funnel (and the names). When every
        statement it will run is then likely among these (not the cohort view; the stalled
        thresholds' guess made; the settled stage-time histograms remembered for the history
        version read last), the read's COMMIT goes out with them: the funnel in one round
        trip after the workspace read. A guess that misses raises `plans.ReadAgain` at the
        first statement that was not read ahead (nothing sent): the caller reads again.
        `strict` (a read that can run nothing else, storage/pg_light.py): ReadAgain at once,
        nothing sent, unless the COMMIT goes with them."""
        if self._dialect != "postgresql":
            return
        requests = [] if cohort else [deal_counts.funnel_request(
            self.session, self.workspace_id, start, end, user=user)]
        if self._history_version is None:
            requests.append((self._prepared(("history_version",),
                                            fact_statements.history_version),
                             self._params()))
        ended = end <= self._clock() - REMEMBER_BEFORE  # then remembered (median_stage_times)
        if not ended and (start, end, user) not in self._medians and (
                tuple(MEASURES.values()), start, end, user) not in self._distributions:
            histograms = histogram_request(self.session.connection(), self.workspace_id,
                                           MEASURES.values(), start, end, user=user,
                                           settled=self._settled())
            if histograms is not None:
                requests.append(histograms)
        if names:  # (storage.users: not imported where no reply names people)
            from storage.users import display_names_request

            requests.append(display_names_request(self.workspace_id))
        if stalled is not None:
            idle_before, listed = stalled
            requests.append(self._open_deal_counts_request(user, idle_before))
            if idle_before and listed >= 1:
                requests.append(self._idle_deals_request(idle_before, listed, user))
        commit = whole and not cohort and stalled is not None and self._settled_known(
            start, end, user, ended)
        from storage import pg_batch, plans

        if strict and not commit:
            raise plans.ReadAgain("storage.facts: the funnel's statements are not all known")
        if len(requests) > 1:
            sent = pg_batch.read_ahead(self.session.connection(), requests, commit=commit)
            if strict and not sent:
                raise plans.ReadAgain("storage.facts: the COMMIT could not go ahead")

    def _settled_known(self, start: datetime, end: datetime, user: str | None,
                       ended: bool) -> bool:
        """Whether this process remembers what the stage-time medians of [start, end) read
        once settled, for the history version it last read for this workspace: the medians
        themselves if the window `ended` before the settle, else the settled histograms (a
        guess, reads nothing)."""
        engine = self.session.get_bind()
        version = _last_versions(engine).get(self.workspace_id)
        if version is None:
            return False
        if ended:
            return past_medians(engine).get(
                (self.workspace_id, version, start, end, user)) is not None
        return settled_known(engine, self.workspace_id, MEASURES.values(), start, end,
                             user=user, settled=Settled(
                                 before=self._clock() - REMEMBER_BEFORE,
                                 version=lambda: version))

    def known_median_stage_times(self, start: datetime, end: datetime
                                 ) -> dict[Stage, float | None] | None:
        """The team's stage-time medians of a window that ended before the history settled,
        if this process remembers them for the history version it last read for this
        workspace (a guess, read nothing: what is asked with it must come out the same
        whatever the version is now, as `read_ahead_funnel`'s statements do); else None."""
        version = _last_versions(self.session.get_bind()).get(self.workspace_id)
        if version is None or end > self._clock() - REMEMBER_BEFORE:
            return None
        found = past_medians(self.session.get_bind()).get(
            (self.workspace_id, version, start, end, None))
        return None if found is None else dict(found)

    def median_stage_times(self, start: datetime, end: datetime, *, user: str | None = None
                      ) -> dict[Stage, float | None]:
        """`stage_time(stage, start, end).median` of every stage but won, read with the stage
        times (`_durations`: the duration histograms, storage/stage_durations.py).
        Remembered for this session: the funnel and the stalled deals of one digest ask for
        the same trailing window. A window that ended before now - REMEMBER_BEFORE (the stalled
        thresholds' 90 whole days before today) is remembered in this process too, until the
        workspace's history_version moves (storage/workspaces.py moves it with every write that
        changes a deal time before then; read once per session)."""
        key = (start, end, user)
        if key not in self._medians:
            ended = end <= self._clock() - REMEMBER_BEFORE
            self._medians[key] = (self._remembered_medians if ended else self._medians_of)(
                start, end, user)
        return dict(self._medians[key])

    def _version(self) -> int:
        """The workspace's history_version, read once per session (in its transaction)."""
        if self._history_version is None:
            self._history_version = self._rows(
                ("history_version",), fact_statements.history_version, self._params())[0][0]
            _last_versions(self.session.get_bind())[self.workspace_id] = self._history_version
        return self._history_version

    def _settled(self) -> Settled:
        """The months whose duration histograms a process may remember (stage_durations)."""
        return Settled(before=self._clock() - REMEMBER_BEFORE, version=self._version)

    def _remembered_medians(self, start: datetime, end: datetime, user: str | None
                            ) -> dict[Stage, float | None]:
        shared = (self.workspace_id, self._version(), start, end, user)
        past = past_medians(self.session.get_bind())
        remembered = past.get(shared)
        if remembered is None:
            # The whole answer is remembered: its months need not be on their own.
            remembered = past.put(shared, self._medians_of(start, end, user, months=False))
        return remembered

    def _medians_of(self, start: datetime, end: datetime, user: str | None, *,
                    months: bool = True) -> dict[Stage, float | None]:
        """The stage times' medians: from their distributions if this session read them,
        else the values at the medians' ranks alone (not p90's: fewer buckets to read);
        `months`: with the settled months' histograms remembered (stage_durations)."""
        found = self._distributions.get((tuple(MEASURES.values()), start, end, user))
        if found is not None:
            return {stage: found[measure].median for stage, measure in MEASURES.items()}
        found_ms = summaries(self.session.connection(), self.workspace_id, MEASURES.values(),
                             start, end, user=user, tenths=MEDIAN_TENTHS,
                             settled=self._settled() if months else None)
        return {stage: _median_of(found_ms[measure]) for stage, measure in MEASURES.items()}

    def open_deal_counts(self, *, user: str | None = None,
                         idle_before: Mapping[Stage, datetime] | None = None
                         ) -> dict[str, tuple[int, int]]:
        """Open deals per stage and how many of them are idle, at a cost that does not grow
        with the history: the totals from open_deal_stages (kept by triggers on deals); per
        stage of `idle_before`, index range counts on ix_deals_open_stage of the deals that
        are not idle (stage_changed_at at or after its instant, or none), which are recent;
        idle = total - not idle."""
        stages = tuple(Stage(stage) for stage in (idle_before or {}))
        statement, params = self._open_deal_counts_request(user, idle_before)
        totals: dict[str, int] = {}
        active: dict[str, int] = {}
        for part, stage, n in statement.rows(self.session.connection(), params):
            into = totals if int(part) < 0 else active
            into[stage] = into.get(stage, 0) + int(n or 0)
        checked = {stage.value for stage in stages}
        return {stage: (n, n - active.get(stage, 0) if stage in checked else 0)
                for stage, n in totals.items() if n}

    def _open_deal_counts_request(self, user: str | None,
                                  idle_before: Mapping[Stage, datetime] | None
                                  ) -> tuple[Prepared, dict[str, Any]]:
        stages = tuple(Stage(stage) for stage in (idle_before or {}))
        build = partial(open_deal_counts_statement, user is not None, stages)
        params = self._params(user=user)
        params.update({f"idle_{i}": at for i, at in enumerate((idle_before or {}).values())})
        return self._prepared(("open_deal_counts", user is not None, stages), build), params

    def idle_deals(self, idle_before: Mapping[Stage, datetime], *, limit: int,
                   user: str | None = None) -> list[DealRow]:
        """Facts.idle_deals: each stage's `limit` longest idle (and those tied with the last
        of them), in one UNION ALL of the per-stage queries (ix_deals_open_stage ranges)."""
        if not idle_before or limit < 1:
            return []
        statement, params = self._idle_deals_request(idle_before, limit, user)
        return [DealRow(key=k, name=n, owner_id=o, stage=s, stage_changed_at=at, amount=a)
                for k, n, o, s, at, a in statement.rows(self.session.connection(), params)]

    def _idle_deals_request(self, idle_before: Mapping[Stage, datetime], limit: int,
                            user: str | None) -> tuple[Prepared, dict[str, Any]]:
        stages = tuple(Stage(stage) for stage in idle_before)
        build = partial(idle_deals_statement, self._dialect, user is not None, stages)
        params = self._params(user=user, limit=limit, last=limit - 1)
        params.update({f"idle_{i}": at for i, at in enumerate(idle_before.values())})
        return self._prepared(("idle_deals", user is not None, stages), build), params

    _statements: dict[tuple, Prepared] = {}  # (dialect, *shape) -> statement, shared

    def _prepared(self, shape: tuple, build: Callable[[], Any]) -> Prepared:
        """The `Prepared` statement `build()` makes for `shape`, built once per dialect and
        known by ("storage.facts", *shape) (storage/compiled.py)."""
        key = (self._dialect, *shape)
        statement = SqlFacts._statements.get(key)
        if statement is None:
            statement = SqlFacts._statements[key] = Prepared.keyed(("storage.facts", *shape),
                                                                   build)
        return statement

    def _rows(self, shape: tuple, build: Callable[[], Any], params: dict[str, Any]
              ) -> list[tuple]:
        """The rows of the statement `build()` makes for `shape`, built and compiled once per
        dialect and run with little Python around it (storage/prepared.py)."""
        return self._prepared(shape, build).rows(self.session.connection(), params)

    def _params(self, **values: Any) -> dict[str, Any]:
        values["workspace"] = self.workspace_id
        if values.get("user") is None:
            values.pop("user", None)
        return values

    # ------------------------------------------------------------------------- customers

    def customers_at(self, instant: datetime) -> int:
        """Accounts with customer_since < instant and not churned before it (two index-only
        counts, storage/customers.py)."""
        return self._count(("customers_at",), customers.customers_at_statement, at=instant)

    def churned_customers(self, start: datetime, end: datetime) -> int:
        """Customers at `start` whose churned_at is in [start, end)."""
        return self._count(("churned_customers",), customers.churned_customers_statement,
                           start=start, end=end)

    def new_customers(self, start: datetime, end: datetime) -> int:
        """Accounts whose first win (customer_since) is in the window."""
        return self._count(("new_customers",), customers.new_customers_statement,
                           start=start, end=end)

    def _count(self, shape: tuple, build: Callable[[], Any], **params: Any) -> int:
        return int(self._rows(shape, build, self._params(**params))[0][0])

    def mrr_at(self, instant: datetime) -> int:
        """Active MRR at `instant`, in minor units:
        + the MRR of won deals with won_at < instant (deal_counts' whole UTC months before
          the instant's month, the deals of its month)
        + the non-void `mrr-change` amounts with occurred_at < instant
        - for accounts with churned_at < instant, their MRR at churn (`accounts.
          churned_mrr_minor`: the churn event's mrr= or, without one, the account's MRR just
          before it churned).
        The mrr-change part reads monthly rollups for the whole local months before the
        instant's month, daily rollups for its month's days before its day, and events for the
        rest of that day."""
        day = instant.astimezone(self._zone).date()
        (row,) = self._rows(("mrr_at",), fact_statements.mrr_at, self._params(
            month=day.replace(day=1), day=day, midnight=self._local_midnight(day),
            instant=instant))
        won = deal_counts.won_mrr_before(self.session, self.workspace_id, instant)
        return won + int(row[0]) + int(row[1]) + int(row[2]) - int(row[3])

    def mrr_lost(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(churned MRR of the accounts that churned in the window, downgrades = minus the
        sum of the negative non-void mrr-change amounts in the window)."""
        (row,) = self._rows(("mrr_lost",), fact_statements.mrr_lost,
                            self._params(start=start, end=end))
        return int(row[0]), -int(row[1])

    # ---------------------------------------------------------------------------- quotas

    def quotas(self, metric: str | None = None) -> list[Quota]:
        """The workspace's quota changes (optionally one metric), by user, metric, then in
        the order they were set."""
        rows = self._rows(("quotas", metric is not None),
                          partial(fact_statements.quotas, metric is not None),
                          self._params(metric=metric))
        return [Quota(user_id=u, metric=m, cadence=c, target=int(t), effective_from=f,
                      set_at=at, set_by=by) for u, m, c, t, f, at, by in rows]

    # --------------------------------------------------------------------------- helpers

    def _local_midnight(self, day: date) -> datetime:
        """The UTC instant a workspace-local day starts."""
        return datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)

    def _whole_local_days(self, start: datetime, end: datetime) -> tuple[date, date]:
        """[first, stop): the workspace-local days lying wholly inside [start, end)."""
        first = start.astimezone(self._zone).date()
        if self._local_midnight(first) < start:
            first += timedelta(days=1)
        stop = end.astimezone(self._zone).date()
        if self._local_midnight(stop) > end:
            stop -= timedelta(days=1)
        return first, stop


def _distribution(rows: list[tuple], *, within: float | None = None
                  ) -> tuple[Distribution, int]:
    """n, mean, median, p90 and total of the non-null values of the one-column `rows`, and
    how many values are <= `within` (0 when None).

    The database reads the values (one index range) and they are sorted and ranked here:
    SQLite's window functions (ROW_NUMBER/COUNT/SUM OVER) cost about 3 µs a row, several
    times the read (stage-time over 7 years at 1M events: 123 ms → 17 ms a stage). The
    values are the database's own (rounded) numbers, so the ranks and the interpolation
    (see the module docstring) are those of the SQL definition.
    """
    found = [row[0] for row in rows if row[0] is not None]
    found.sort()
    if not found:
        return Distribution(), 0
    count, total = len(found), float(sum(found))
    at = {rank: float(found[rank]) for rank in percentile_ranks(count, (5, 9))}
    inside = bisect.bisect_right(found, within) if within is not None else 0
    return Distribution(n=count, median=percentile(count, at, 5), mean=total / count,
                        p90=percentile(count, at, 9), total=total), inside


def _distribution_of(found: Summary) -> Distribution:
    """n, median, mean, p90 and total (seconds) of the deal durations `found` (milliseconds;
    the mean is their exact sum / n, correctly rounded)."""
    if not found.n:
        return Distribution()
    at = {rank: ms / 1000 for rank, ms in (found.at or {}).items()}
    return Distribution(n=found.n, median=percentile(found.n, at, 5),
                        mean=found.total_ms / (1000 * found.n), p90=percentile(found.n, at, 9),
                        total=found.total_ms / 1000)


def _distribution_of_seconds(found: Found) -> Distribution:
    """n, median, mean, p90 and total of the event durations `found` (whole seconds), as
    `SqlFacts._distribution` computes them from the values themselves."""
    if not found.n:
        return Distribution()
    at = {rank: float(seconds) for rank, seconds in found.at.items()}
    total = float(found.total)
    return Distribution(n=found.n, median=percentile(found.n, at, 5), mean=total / found.n,
                        p90=percentile(found.n, at, 9), total=total)


def _median_of(found: Summary) -> float | None:
    """The median (seconds) of the deal durations `found`, as `_distribution_of` has it."""
    if not found.n:
        return None
    return percentile(found.n, {rank: ms / 1000 for rank, ms in (found.at or {}).items()}, 5)


_LAST_VERSIONS: weakref.WeakKeyDictionary[sa.Engine, dict[str, int]] = (
    weakref.WeakKeyDictionary())


def _last_versions(engine: sa.Engine) -> dict[str, int]:
    """workspace -> the history_version a session of this process read last (a guess of
    the next one, for `known_median_stage_times`)."""
    found = _LAST_VERSIONS.get(engine)
    if found is None:
        found = _LAST_VERSIONS.setdefault(engine, {})
    return found
