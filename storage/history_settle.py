"""`HISTORY_SETTLE`: how old a deal time must be for a write that changes it to count as
changing the past (storage/deals.py moves the workspace's history_version then; storage/facts.py
and storage/stage_durations.py remember what a version settled: what is older than
`REMEMBER_BEFORE`). Its own module: the light
read path (storage/lite.py) imports it without the ORM that storage/deals.py needs."""

from datetime import timedelta

# A write counts as changing the past when it changes deal times older than this; an event
# logged "now" is stored within seconds, far inside it.
HISTORY_SETTLE = timedelta(minutes=5)

# What a reader may remember is older than twice that. A write decides with its own clock, read
# before it commits, whether it changes the past; a write that read its clock before a reader
# did and commits after the reader read (so the reader did not see it) still counts a change
# to anything older than REMEMBER_BEFORE at the reader's clock as a change of the past, unless
# it stayed open for more than HISTORY_SETTLE after reading its clock (a command's deadline is
# seconds).
REMEMBER_BEFORE = 2 * HISTORY_SETTLE
