"""The files an edit sends, as the prepared request carries them to the upstream call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Protocol

from gateway.models.spec import Edit


class EditFile(Protocol):
    """One uploaded file as the edit needs it (:class:`gateway.web.uploads.Upload`)."""

    field: str
    filename: str | None
    content_type: str | None
    file: IO[bytes]
    size: int
    sha256: str

    @property
    def media_type(self) -> str: ...


@dataclass(frozen=True, slots=True)
class EditInput:
    """What an edit sends besides its prepared body: its route and its files.

    ``array``: a JSON route's field takes the data URLs as an array (else one string)."""

    route: Edit
    images: tuple[EditFile, ...]
    mask: EditFile | None
    array: bool = False
