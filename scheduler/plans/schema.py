"""The JSON Schema (draft 2020-12) of plan files, generated from the shape models.

Editors use it to complete keys and flag typos (``drsched plan schema``); it
describes shape only — times, ranges, DST and overlaps are checked by
``drsched plan validate``.
"""

from __future__ import annotations

from typing import Any

from scheduler.plans.model import PlanFile

SCHEMA_ID = "https://drsched.invalid/schemas/plan.json"


def plan_json_schema() -> dict[str, Any]:
    """The schema as a JSON-ready dict."""
    schema = PlanFile.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "drsched event plan",
        "description": "DR event plan (docs/plan-format.md). Local times are in `timezone`.",
    }
