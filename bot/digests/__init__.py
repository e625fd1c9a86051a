"""Digest delivery: compose the view model, post it to Slack or Teams exactly once per slot,
retry what can be retried, tell the owner what cannot; the APScheduler wiring around it."""
