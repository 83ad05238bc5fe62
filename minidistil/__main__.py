"""`python -m minidistil`: see minidistil/cli.py."""
from minidistil.cli import main

raise SystemExit(main())
