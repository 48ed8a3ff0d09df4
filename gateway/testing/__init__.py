"""What tests and benchmarks share: the fake AIML upstream and process helpers.

Shipped in the package so that ``bench/`` and ``gateway fake-upstream`` need nothing from
``tests/``; production code never imports it (the CLI aside)."""

from __future__ import annotations
