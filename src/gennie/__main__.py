"""``python -m gennie``: the same command line as the ``gennie`` script."""

from gennie.cli import main

if __name__ == "__main__":
    main()
