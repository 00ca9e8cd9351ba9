"""`python -m quorumd` is the `quorumd` command."""

from quorumd.cli.main import main

main()
