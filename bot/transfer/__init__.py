"""CSV in and out: `kpibot import` (events CSV and CRM deals CSV into a workspace, in one
transaction), `kpibot export` and the events API's reader.

Modules, one job each: `reading` (the file: encoding, delimiter, numbered rows), `columns`
(header → fields, --map/--stage/--source), `dates`, `numbers` (money, counts, durations),
`evidence` (day/month order and decimal mark detected from the whole file), `rows` (an events
row → an event; `EventReader` for the events API), `deals` (a CRM deal row → its events),
`importer` (running an import: dry run, skip-bad, chunks, progress, one transaction), `export`,
`presets` (the formats' columns and the CRM presets).

Formats (headers in `bot.transfer.presets`):

* events: the canonical events CSV that `kpibot export` writes (only `occurred_at` and `event`
  are required; export → import round-trips exactly). A row without a user is credited to the
  team ("Unassigned") when its kind may be (leads, web events, social engagement, spend) and
  refused otherwise; a `deal-won` without an amount is a win whose amount is unknown
  (`reports.events.record_problem`, the rule the events API shares).
* deals: one row per deal as CRMs export them; a row becomes the events it implies:
  created → `opportunity` (open deals in an earlier stage: `lead`/`mql`/`sql` instead; open
  or closed deals in a demo stage also get `demo-booked`), won → `deal-won` (amount) at the close
  date, lost → `deal-lost` (reason, competitor) at the close date. A deal without an owner is
  credited to "Unassigned"; a won deal without an amount is a win of unknown amount.

Reading: UTF-8 with or without BOM; CRLF or LF; `,` `;` or tab delimiter, sniffed from the
header (a file that mixes them is refused). Dates: ISO 8601 with or without time and offset,
`10/05/2026` (month or day first: detected from the file, refused when the file cannot tell,
`--date-format dmy|mdy|PATTERN` decides), `05.10.2026` (day first), `5 Oct 2026`,
`Oct 5, 2026`, Excel serial numbers. A time without an offset is workspace-local; a date
without a time is noon workspace-local (like backdated `/kpi log ... on DATE`), and a deal's
events on one day count in funnel order (reports.deal_state), so a date-only lead never comes
after a timed win of the same day. Money:
`12000`, `12,000.50`, `12.000,50`, `12 000`, `$12,000`, `12000 USD`, `(200)`; another
currency than the workspace's is refused. Decimal comma or point is detected per file.

Validation: every bad row is reported with its line number and reason. By default the whole
file is refused when any row is bad (nothing stored); `skip_bad` stores the good rows;
`dry_run` only validates. Idempotency keys:

* the `key` column when present (exports carry it);
* events format otherwise: `import:` + sha256 of the row's parsed fields (kind, instant, count,
  amounts, deal, account, the user as written, source, reason, competitor, note) + `:` +
  the occurrence index among identical rows — formatting (delimiter, BOM, date or number
  style) does not change it, and neither do the file name or line numbers;
* deals format: `import:deal:` + sha256 of (deal key, event kind): one event of each kind per
  CRM deal, so importing a later export of the same CRM only adds what happened since.
"""
