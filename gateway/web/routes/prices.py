"""``GET /admin/prices``: the price table the running gateway estimates costs with."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.billing.price_file import price_table_json
from gateway.web.admin_auth import admin
from gateway.web.http import json_response


async def list_prices(request: Request) -> Response:
    """Every model's price (the built-in table with the operator's file over it) and the
    default per-image price used for models without one."""
    svc = admin(request)
    return json_response(price_table_json(svc.prices, svc.settings.prices_file))
