"""The OpenAPI paths of image edits and variations (merged by
:func:`gateway.web.openapi.build_openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.web.openapi_parts import answer, costed, errors

FILE = {"type": "string", "format": "binary"}
EDIT_FORM = {
    "type": "object",
    "required": ["model", "prompt"],
    "properties": {
        "image": {**FILE, "description": "One image (PNG, JPEG or WEBP, by its bytes)"},
        "image[]": {
            "type": "array",
            "items": FILE,
            "description": "Several images (at most the model's maximum)",
        },
        "mask": {**FILE, "description": "A PNG mask (models that take one)"},
        "model": {"type": "string", "description": "An edit-capable model id or alias"},
        "prompt": {"type": "string"},
        "n": {"type": "integer", "minimum": 1},
        "size": {"type": "string"},
        "quality": {"type": "string"},
        "background": {"type": "string"},
        "output_format": {"type": "string"},
        "output_compression": {"type": "integer"},
        "response_format": {"enum": ["url", "b64_json"]},
        "user": {"type": "string"},
    },
    "additionalProperties": True,
}


def edit_paths() -> dict[str, Any]:
    """``/v1/images/edits`` and ``/v1/images/variations``."""
    images = answer({"$ref": "#/components/schemas/ImagesResponse"})
    return {
        "/v1/images/edits": {
            "post": {
                "summary": "Edit images (multipart/form-data, as the OpenAI SDKs send it)",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": EDIT_FORM}},
                },
                "responses": costed(
                    {
                        "200": images,
                        "201": images,
                        **errors(400, 401, 403, 408, 413, 429, 502, 503, 504),
                    }
                ),
            }
        },
        "/v1/images/variations": {
            "post": {
                "summary": "Not available (AIML has no variations endpoint): always 400, "
                "naming an edit-capable model to use with /v1/images/edits",
                "responses": errors(400, 401),
            }
        },
    }
