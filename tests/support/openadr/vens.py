"""VEN settings for the VTN of :mod:`.vtn`, and VEN tasks a test starts and stops."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine

from scheduler.clock import SystemClock
from scheduler.config import OpenadrConfig
from scheduler.openadr.ven import Ven
from tests.support.openadr.vtn import CONTEXT


def ven_config(url: str, **overrides: Any) -> OpenadrConfig:
    data: dict[str, Any] = {
        "vtn_url": url,
        "ven_name": "drsched-test",
        "retry_initial": "0.2s",
        "retry_max": "1s",
        "market_contexts": [
            {
                "market_context": CONTEXT,
                "vtn_id": "vtn01",
                "targets": [{"ven": "CE-02"}],
                "signals": [
                    {
                        "signal": "LOAD_CONTROL",
                        "targets": ["x-DEVICE_AIR_CONDITIONER"],
                        "max_temp": 80,
                        "unit": "F",
                    },
                    {"signal": "SIMPLE", "targets": ["x-DEVICE_TV"]},
                ],
            }
        ],
    }
    data.update(overrides)
    return OpenadrConfig.model_validate(data)


class Vens:
    """Starts VEN tasks (``vens(config)``) and stops one (``vens.stop(ven)``) or all at the end."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def __call__(self, config: OpenadrConfig) -> Ven:
        ven = Ven(config, self.engine, SystemClock())
        self.tasks[id(ven)] = asyncio.create_task(ven.run())
        return ven

    async def stop(self, ven: Ven | None = None) -> None:
        keys = list(self.tasks) if ven is None else [id(ven)]
        tasks = [self.tasks.pop(key) for key in keys]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
