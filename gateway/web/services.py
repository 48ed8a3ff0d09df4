"""The objects a running gateway shares between requests, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import Request

from gateway.alerts.monitor import AlertMonitor
from gateway.billing.prices import PriceTable
from gateway.keys.service import KeyService
from gateway.limits.admission import Calendar
from gateway.models.registry import Registry
from gateway.observability.audit_trail import AuditTrail
from gateway.observability.clock import Clock
from gateway.observability.metrics import Metrics
from gateway.observability.request_log import RequestLog
from gateway.pipeline.generation import ImageService
from gateway.settings.model import Settings
from gateway.store.base import Store
from gateway.store.journal import Journal
from gateway.teams.service import TeamService
from gateway.web.deadlines import Deadlines


@dataclass(slots=True)
class Services:
    """Everything handlers need; reaches them through the lifespan state."""

    settings: Settings
    store: Store
    keys: KeyService
    teams: TeamService
    registry: Registry
    images: ImageService
    calendar: Calendar
    http: httpx.AsyncBaseTransport
    clock: Clock
    metrics: Metrics
    deadlines: Deadlines
    prices: PriceTable
    journal: Journal
    request_log: RequestLog
    audit: AuditTrail
    alerts: AlertMonitor | None = None


def services(request: Request) -> Services:
    """The running gateway's services, from the lifespan state."""
    found: Services = request.state.services
    return found
