"""Configuration: environment variables ``GATEWAY_*`` over an optional TOML file.

The TOML file is named by ``GATEWAY_CONFIG``; environment variables win over it. Settings
are validated once, at start-up, and a bad value stops the gateway with one line naming it
(see :func:`gateway.cli.main.main`).

``model`` holds the settings themselves, ``declared`` the client keys the file may declare
and ``limits`` the limit fields both carry (money read exactly); ``config_file`` reads the
file, ``loading`` builds the settings and words a refusal, ``errors`` is what a refusal
raises.

A layer below the domain packages: imports only the store's plain types and its URL parser
(pydantic aside); never an HTTP framework or a package above.
"""

from __future__ import annotations
