"""`python -m scheduler` is the same as the `drsched` command."""

from scheduler.cli import main

raise SystemExit(main())
