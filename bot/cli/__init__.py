"""`kpibot`, the command line: `bot.cli.main` builds the parser from one module per command
group (each with `add_parser(subparsers)` and `run(args, settings)`) and runs the chosen one.

Building the parser imports nothing heavy (no Bolt, SQLAlchemy, pydantic, Babel, Jinja or
matplotlib): `kpibot --help` stays fast, and a command imports what it needs when it runs."""
