"""``python -m tinym2net``: the same command line as the ``tinym2net`` script."""

from tinym2net.cli import main

main()
