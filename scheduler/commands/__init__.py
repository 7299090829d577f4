"""Sub-commands of ``drsched``; see :mod:`scheduler.cli`."""
