"""Allow ``python -m hipflex``."""

from hipflex.service.cli import entry

entry()
