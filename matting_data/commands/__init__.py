"""Subcommands of the ``matting-data`` CLI (one module each; see :mod:`matting_data.cli`)."""
