"""`HISTORY_SETTLE`: how old a deal time must be for a write that changes it to count as
changing the past (storage/deals.py moves the workspace's history_version then; storage/facts.py
and storage/stage_durations.py remember what a version settled). Its own module: the light
read path (storage/lite.py) imports it without the ORM that storage/deals.py needs."""

from datetime import timedelta

# A write counts as changing the past when it changes deal times older than this; an event
# logged "now" is stored within seconds, far inside it.
HISTORY_SETTLE = timedelta(minutes=5)
