"""The objects a running gateway shares between requests, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import Request

from gateway.admission import Calendar
from gateway.clock import Clock
from gateway.deadlines import Deadlines
from gateway.generation import ImageService
from gateway.keys import KeyService
from gateway.metrics import Metrics
from gateway.registry import Registry
from gateway.settings import Settings
from gateway.store.base import Store


@dataclass(slots=True)
class Services:
    """Everything handlers need; reaches them through the lifespan state."""

    settings: Settings
    store: Store
    keys: KeyService
    registry: Registry
    images: ImageService
    calendar: Calendar
    http: httpx.AsyncBaseTransport
    clock: Clock
    metrics: Metrics
    deadlines: Deadlines


def services(request: Request) -> Services:
    """The running gateway's services, from the lifespan state."""
    found: Services = request.state.services
    return found
