"""``gateway models sync``: the upstream's live catalogue into an operator registry file.

``GET {upstream}/v1/models`` lists every model; the image ones (type
``openai/image-generations``) point at their OpenAPI document (``info.docsJson``), which is
read and imported like a file of ``gateway models import``, with the upstream's own
aliases. The catalogue's ETag is kept in the file and sent back as ``If-None-Match``: an
unchanged catalogue (304) writes nothing. Models the file holds that the live catalogue
no longer lists are kept (an operator's own entries survive a sync).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from gateway.models.catalogue import (
    CatalogueError,
    Operation,
    operations_from_document,
    with_aliases,
)
from gateway.models.importer import dump, import_operations
from gateway.models.registry import check_data, read_file

IMAGE_TYPE = "openai/image-generations"


class SyncError(ValueError):
    """The live catalogue could not be read; the message says what answered what."""


@dataclass
class SyncOutcome:
    """Whether the file was written, and the report."""

    written: bool
    report: list[str] = field(default_factory=list)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (a crash leaves the old file or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _items(body: Any) -> list[dict[str, Any]]:
    listed = body.get("data") if isinstance(body, dict) else body
    if not isinstance(listed, list):
        raise SyncError("the model list is neither a list nor {'data': [...]}")
    return [item for item in listed if isinstance(item, dict)]


def _same_origin(url: str, upstream: str) -> bool:
    a, b = urlsplit(url), urlsplit(upstream)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _get(http: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    try:
        return http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise SyncError(f"GET {url}: {type(exc).__name__}") from None


def _document_ops(
    http: httpx.Client, item: dict[str, Any], upstream: str, auth: dict[str, str], report: list[str]
) -> list[Operation]:
    model = str(item.get("id"))
    info = item.get("info") if isinstance(item.get("info"), dict) else {}
    url = info.get("docsJson") if isinstance(info, dict) else None
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        report.append(f"skipped {model}: no docsJson link")
        return []
    headers = {"accept": "application/json", **(auth if _same_origin(url, upstream) else {})}
    response = _get(http, url, headers)
    parts = urlsplit(url)
    source = parts.path + (f"?{parts.query}" if parts.query else "")
    if response.status_code != 200:
        report.append(f"skipped {model}: {source} answered {response.status_code}")
        return []
    try:
        return operations_from_document(source, orjson.loads(response.content))
    except (orjson.JSONDecodeError, CatalogueError) as exc:
        report.append(f"skipped {model}: {source}: {str(exc).splitlines()[0]}")
        return []


def sync_catalogue(
    http: httpx.Client,
    upstream: str,
    output: Path,
    *,
    api_key: str | None = None,
    force: bool = False,
    now: Callable[[], str],
) -> SyncOutcome:
    """Fetch the live catalogue into ``output`` (SyncError or RegistryError on failure)."""
    upstream = upstream.rstrip("/")
    source = f"models file {output}"
    previous = read_file(source, output) if output.exists() else None
    auth = {"authorization": f"Bearer {api_key}"} if api_key else {}
    headers = {"accept": "application/json", **auth}
    stored = previous.sync if previous is not None else None
    if stored is not None and stored.etag and stored.upstream == upstream and not force:
        headers["if-none-match"] = stored.etag
    response = _get(http, f"{upstream}/v1/models", headers)
    if response.status_code == 304:
        return SyncOutcome(False, [f"{output} is up to date with {upstream} (ETag unchanged)"])
    if response.status_code != 200:
        raise SyncError(f"GET {upstream}/v1/models answered {response.status_code}")
    try:
        items = _items(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        raise SyncError(f"GET {upstream}/v1/models did not answer JSON") from None
    report: list[str] = []
    images = [item for item in items if item.get("type") == IMAGE_TYPE and item.get("id")]
    aliases = {
        str(item["id"]): tuple(a for a in item.get("aliases") or () if isinstance(a, str))
        for item in images
    }
    ops: list[Operation] = []
    for item in images:
        ops += _document_ops(http, item, upstream, auth, report)
    result = import_operations(
        with_aliases(ops, aliases), origin=f"{upstream}/v1/models", notes=report
    )
    models: dict[str, Any] = dict(result.models)
    if previous is not None:
        kept = [mid for mid in previous.models if mid not in models]
        for model_id in kept:
            models[model_id] = previous.models[model_id].model_dump(
                by_alias=True, exclude_defaults=True
            )
        if kept:
            result.report.append(
                f"kept {len(kept)} models the live catalogue does not list: {', '.join(kept)}"
            )
    data: dict[str, Any] = {"origin": result.data["origin"]}
    if previous is not None and previous.allow_unknown:
        data["allow_unknown"] = True
    data["sync"] = {"upstream": upstream, "synced_at": now()}
    if response.headers.get("etag"):
        data["sync"]["etag"] = response.headers["etag"]
    data["models"] = dict(sorted(models.items()))
    check_data(source, data)
    write_atomically(output, dump(data))
    result.report.append(f"wrote {len(models)} models to {output}")
    return SyncOutcome(True, result.report)
