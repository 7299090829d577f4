"""Adapters to the vendor APIs: DR Requests (``dr_api``), BECON Connect (``becon``).

``http`` holds the policy they share: httpx errors converted into
``scheduler.errors`` at the boundary, bounded retries, one log event per call.
"""
