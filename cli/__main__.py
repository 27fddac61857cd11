"""`python -m cli` = `echo-brain`."""

from cli import main

main()
