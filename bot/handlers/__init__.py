"""Command handlers: each takes a parsed command and an Invocation and returns a Reply."""
