"""``python -m medpolicy``: the same as the ``medpolicy`` command."""

from medpolicy.cli import main

main()
