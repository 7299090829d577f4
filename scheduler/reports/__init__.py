"""Evidence reports of DR events: totals, records with a SHA-256 digest, and renderers.

Pure: built from :class:`~scheduler.domain.evidence.EventEvidence` values;
``drsched report`` (``scheduler.commands.report``) gathers them from the store.
"""
