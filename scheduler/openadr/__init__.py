"""drsched as an OpenADR 2.0b VEN on openleadr (docs/openadr.md).

- :mod:`.mapping`: pure: an OpenADR event -> a drsched :class:`PlanEvent`, or why not;
- :mod:`.ingest`: one VTN event into the store (the plan path) and the answer to give;
- :mod:`.ven`: the openleadr client wrapped: registration with back-off, polling,
  answers; its state persisted (:mod:`scheduler.store.openadr`).
"""
