"""`python -m minidistil`: see minidistil/cli/__init__.py."""
from minidistil.cli import main

raise SystemExit(main())
