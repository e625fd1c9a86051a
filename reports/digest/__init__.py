"""The digest: a view model built from KPI results (`build_digest`), rendered by Jinja2
templates as Slack Block Kit, a Teams Adaptive Card and plain text (`reports.digest.render`)."""
