"""One function per question a person asks, shared by every entry point (chat, `kpibot`, the
events API): it takes a database session and plain arguments and returns the answer; the entry
points only read their input and render the answer. Nothing here runs at import."""
