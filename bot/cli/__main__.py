"""`python -m bot.cli ...` runs `kpibot ...`."""

from bot.cli.main import main

raise SystemExit(main())
