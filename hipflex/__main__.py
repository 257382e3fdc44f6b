"""Allow ``python -m hipflex``."""

from hipflex.service.cli import main

raise SystemExit(main())
