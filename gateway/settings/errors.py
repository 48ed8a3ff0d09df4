"""The errors of settings the gateway cannot run with.

Their own module because every step of the start-up raises them: reading the config file,
validating the settings, checking the declared keys against the model registry
(:func:`gateway.web.startup.check_declared_models`); the command shows the message as the
one line it prints before exiting.
"""

from __future__ import annotations


class SettingsError(ValueError):
    """Settings the gateway cannot run with; the message is the one line to show."""


class ConfigFileError(SettingsError):
    """The file named by GATEWAY_CONFIG is missing, unreadable or not TOML."""
