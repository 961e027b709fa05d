"""The bot itself and its updates: getMe, getUpdates, webhooks."""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from .core import MethodsCore
from .params import Files, Params, param_bool, param_int, param_str


class UpdateMethods(MethodsCore):
    def get_me(self, params: Params, files: Files) -> dict[str, Any]:
        return {
            **self.sim.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.sim.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: Params, files: Files) -> list[dict[str, Any]]:
        allowed = params.get("allowed_updates")
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(item, str) for item in allowed)
        ):
            raise bad_request("can't parse allowed_updates JSON array")
        return await self.sim.get_updates(
            offset=param_int(params, "offset"),
            limit=param_int(params, "limit") or 100,
            timeout=max(param_int(params, "timeout") or 0, 0),
            allowed_updates=allowed,
        )

    def set_webhook(self, params: Params, files: Files) -> bool:
        url = param_str(params, "url") or ""
        if url and not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.sim.webhook_url = url
        if param_bool(params, "drop_pending_updates"):
            self.sim.drop_updates()
        return True

    def delete_webhook(self, params: Params, files: Files) -> bool:
        self.sim.webhook_url = ""
        if param_bool(params, "drop_pending_updates"):
            self.sim.drop_updates()
        return True

    def get_webhook_info(self, params: Params, files: Files) -> dict[str, Any]:
        return {
            "url": self.sim.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.sim.pending_updates),
        }
