"""Rate limits and quotas: quota calendars, admission decisions rendered as headers and
refusals, usage reports.

May import store, observability and errors; never web, pipeline or another domain package."""

from __future__ import annotations
