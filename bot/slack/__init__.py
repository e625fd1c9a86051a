"""Slack adapter: Bolt for Python around the platform-neutral command handler."""
