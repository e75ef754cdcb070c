"""Server side of ``python -m emolib app`` (loaded by Voila, never by ``import emolib``).

:class:`AppKernelManager` is Voila's kernel manager with one change: when idle kernels are culled
(``MappingKernelManager.cull_idle_timeout``), the kernels waiting in Voila's preheated pool for the
next visitor are kept (idle is what they are for); visitors' kernels go after their idle time.
"""
from __future__ import annotations

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager


def pooled_kernel_ids(manager: object) -> set[str]:
    """Ids of the started kernels in Voila's preheated pool(s) of ``manager`` (none without preheating)."""
    ids = set()
    for pool in getattr(manager, "_pools", {}).values():
        for task in pool:
            if task.done() and not task.cancelled() and task.exception() is None:
                ids.add(task.result().get("kernel_id"))
    return ids


class AppKernelManager(AsyncMappingKernelManager):
    """Culls visitors' idle kernels, never the pre-started ones waiting for a visitor."""

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        dead = getattr(self._kernels.get(kernel_id), "execution_state", None) == "dead"
        if kernel_id in pooled_kernel_ids(self) and not dead:
            return
        await super().cull_kernel_if_idle(kernel_id)
