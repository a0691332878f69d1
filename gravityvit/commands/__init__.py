"""Subcommands of the ``gravityvit`` command line (see ``gravityvit.cli``)."""
