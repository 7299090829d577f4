"""Adapters to the vendor APIs: DR Requests (``dr/``), BECON Connect (``becon/``).

Each vendor has a ``client`` (the calls), a ``contract`` (every assumption the
spec leaves open, in one module: DESIGN "keep it in the adapter") and
``types`` (the values the client sends and returns). ``http`` holds the policy
they share: httpx errors converted into ``scheduler.errors`` at the boundary,
bounded retries, one log event per call, and :class:`~scheduler.clients.http.OwnedClient`,
the connection lifecycle both clients share. Clients take plain values; the
config is read by the composition root (:mod:`scheduler.config_values`).
"""
