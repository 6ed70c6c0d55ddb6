"""`python -m revati`: the revati command line."""

from revati.cli import main

main()
