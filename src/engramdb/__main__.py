"""``python -m engramdb``: the ``engram`` command line."""

from engramdb.cli import main

if __name__ == "__main__":
    main()
