"""`python -m impact` is the `impact` command."""

from impact.cli import main

main()
