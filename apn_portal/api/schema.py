"""The OpenAPI contract: drf-spectacular's schema plus what every operation can answer besides success.

Every operation documents its error responses (the JSON shapes of `apn_portal.api.exceptions`), POSTs
document `Idempotency-Key`, and updates document `If-Match`.
"""

from drf_spectacular.openapi import AutoSchema

ERROR_REF = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error about the request as a whole.",
    "properties": {"detail": {"type": "string", "description": "What went wrong, for a person to read."}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Bad input: each key is a field of the request (or `non_field_errors`, or `detail`), each value "
        "the messages about it."
    ),
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
            {"type": "object"},
        ]
    },
}

COMMON_ERRORS = {
    "400": ("Bad input: a filter, a page or a cursor that is not valid.", VALIDATION_ERROR_REF),
    "401": ("No credentials, or a token that is not valid.", ERROR_REF),
    "403": ("Signed in, but not allowed to do this.", ERROR_REF),
    "404": ("Not found, or not visible to you.", ERROR_REF),
    "406": ("The Accept header asks for a format the API does not offer.", ERROR_REF),
    "429": ("Too many requests: slow down; `Retry-After` says for how long.", ERROR_REF),
}
WRITE_ERRORS = {
    "400": ("Bad input: the body names each field's problems.", VALIDATION_ERROR_REF),
    "409": (
        "Conflict with what is stored: a duplicate, a state that no longer allows this, a stale "
        "`If-Match`, or an `Idempotency-Key` still in use.",
        ERROR_REF,
    ),
    "415": ("The body is not JSON (send `Content-Type: application/json`).", ERROR_REF),
}
IDEMPOTENCY_ERRORS = {
    "422": ("This `Idempotency-Key` was used for a different request.", ERROR_REF),
}

IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any unique string up to 255 characters. Retrying a POST with the same key returns the first "
        "response (with `Idempotent-Replayed: true`) and creates nothing again."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
IF_MATCH_PARAMETER = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of your last read: if the record changed since, the write is refused (409).",
    "schema": {"type": "string"},
}


class PortalAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        errors = dict(COMMON_ERRORS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(WRITE_ERRORS)
        if self.method == "POST":
            errors.update(IDEMPOTENCY_ERRORS)
            operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
        if self.method in ("PUT", "PATCH", "DELETE"):
            operation.setdefault("parameters", []).append(IF_MATCH_PARAMETER)
        for code, (description, schema) in errors.items():
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": schema}}}
            )
        # What anybody may call without a token (PortalPermission's public_actions): `{}` in security.
        if getattr(self.view, "action", None) in getattr(self.view, "public_actions", ()):
            security = operation.setdefault("security", [])
            if {} not in security:
                security.append({})
        return operation


def add_error_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error schemas every operation refers to."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    return result
