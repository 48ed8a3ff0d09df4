"""Client keys: generation, keyed hashing, authentication and key records.

May import store, observability, errors and settings; never web, pipeline or another domain
package."""

from __future__ import annotations
