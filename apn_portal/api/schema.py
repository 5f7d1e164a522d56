"""The OpenAPI contract: drf-spectacular's schema plus what every operation can answer besides success.

Every operation documents its error responses (the JSON shapes of `apn_portal.api.exceptions`; those
about a body only where there is one, so not on DELETE), POSTs document `Idempotency-Key` (and the
`Idempotent-Replayed` header of a replayed answer), updates and deletions `If-Match`, reads and updates of
a record the `ETag` they answer with, and a 429 its `Retry-After`.
"""

import inspect

from django.db import models
from drf_spectacular.openapi import AutoSchema

from apn_portal.api.exceptions import body_size_limit
from apn_portal.api.idempotency import REPLAY_HEADER, IdempotentPostMixin
from apn_portal.api.pagination import PortalPageNumberPagination

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
    "400": (
        "Bad input: a filter or a cursor that is not valid, a `page` or `page_size` that is not a whole "
        "number of at least 1, or a parameter the list does not take.",
        VALIDATION_ERROR_REF,
    ),
    "401": ("No credentials, or a token that is not valid.", ERROR_REF),
    "403": ("Signed in, but not allowed to do this.", ERROR_REF),
    "404": ("Not found, or not visible to you.", ERROR_REF),
    "406": ("The Accept header asks for a format the API does not offer.", ERROR_REF),
    "429": ("Too many requests: slow down; `Retry-After` says for how long.", ERROR_REF),
}
# A list paged by number answers a page past its last as DRF does, so a client asking for the next number
# until there is none stops there (apn_portal.api.pagination.ApiCountPaginator words the message).
PAGE_PAST_THE_END = {
    "404": (
        "`page` is past the last page: `detail` says how many pages there are "
        '(`{"detail": "Page 9 does not exist: there are 3 pages."}`).',
        ERROR_REF,
    ),
}
WRITE_ERRORS = {
    "400": ("Bad input: the body names each field's problems.", VALIDATION_ERROR_REF),
    "413": (f"The body is too large: the API accepts at most {body_size_limit()}.", ERROR_REF),
    "415": ("The body is not JSON (send `Content-Type: application/json`).", ERROR_REF),
}
# What a 409 means, by method: a POST's `Idempotency-Key` (it takes no `If-Match`), an update's or a
# deletion's `If-Match` (they take no `Idempotency-Key`), each with what to do about it.
POST_CONFLICT = {
    "409": (
        "Conflict with what is stored: a duplicate, a state that no longer allows this, an "
        "`Idempotency-Key` whose first request is still running (wait a moment, then retry with the same "
        "key), or another request changing the same records at that moment (send it again).",
        ERROR_REF,
    ),
}
UPDATE_CONFLICT = {
    "409": (
        "Conflict with what is stored: the record changed since the read whose `ETag` you sent as "
        "`If-Match` (nothing is changed: read it again, then send your change with its new `ETag`), a "
        "duplicate, a state that no longer allows this, or another request changing the same records at "
        "that moment (send it again).",
        ERROR_REF,
    ),
}
# A DELETE reads no body (one sent is ignored, however large and whatever its type): no 413 or 415, and its
# 400 can only be a filter's value, which the lookup of one record reads as a read's does. Its 409 is
# delete_conflict's, by what refers to the record.
DELETE_ERRORS = {
    "400": (
        "Bad input: a query parameter whose value is not valid (`updated_since=yesterday`). A DELETE "
        "takes no body; one sent is not read.",
        VALIDATION_ERROR_REF,
    ),
}


def _referring_relations(model) -> list:
    """The foreign keys of other records to `model` that the database checks."""
    return [rel for rel in model._meta.related_objects if getattr(rel.field, "db_constraint", False)]


def _kept_by_references(model, seen=None) -> bool:
    """Whether records may refer to a `model` record that its deletion must not take (PROTECT or RESTRICT),
    directly or through the records it takes with it: the API then answers 409 (ProtectedError)."""
    seen = seen or {model}
    for rel in _referring_relations(model):
        if rel.on_delete in (models.PROTECT, models.RESTRICT):
            return True
        if rel.on_delete is models.CASCADE and rel.related_model not in seen:
            seen.add(rel.related_model)
            if _kept_by_references(rel.related_model, seen):
                return True
    return False


def delete_conflict(model) -> tuple[str, dict]:
    """A DELETE's 409: a stale `If-Match`, and, for a record other records refer to, those records."""
    causes = [
        "the record changed since the read whose `ETag` you sent as `If-Match` (nothing is deleted: read it "
        "again, then, if you still mean to, delete it with its new `ETag`)"
    ]
    if model is not None and _kept_by_references(model):
        causes.append(
            "other records that still refer to it and that its deletion does not take (nothing is "
            "deleted: delete or change those first)"
        )
    if model is not None and _referring_relations(model):
        causes.append(
            "a record that refers to this one, added by another request while it was being deleted "
            "(nothing is deleted: send the DELETE again)"
        )
    causes.append("another request changing the same records at that moment (send it again)")
    text = "Conflict with what is stored: " + ", ".join(causes[:-1]) + ", or " + causes[-1] + "."
    return text, ERROR_REF


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


# Response headers, by the status code or the kind of operation that answers with them.
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
ETAG_HEADER = {
    "ETag": {
        "description": "The record's version: send it as `If-Match` with a write, so the write is refused "
        "(409) if the record changed since this answer.",
        "required": True,
        "schema": {"type": "string"},
    }
}
REPLAYED_HEADER = {
    REPLAY_HEADER: {
        "description": "`true` on the stored answer to an earlier request with the same `Idempotency-Key`; "
        "absent on a first answer.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
# The actions whose 200 carries the record's `ETag` (apn_portal.api.viewsets).
ETAG_ACTIONS = ("retrieve", "update", "partial_update")


def _add_headers(response: dict, headers: dict) -> None:
    if "$ref" not in response:
        response.setdefault("headers", {}).update(headers)


class PortalAutoSchema(AutoSchema):
    def get_description(self) -> str:
        """The view's own docstring, written for integrators (an operation's `extend_schema` description
        replaces it). drf-spectacular would otherwise fall back on a method's docstring or on that of a
        base class or mixin (`IdempotentPostMixin`, `CursorListMixin`): notes for the portal's developers."""
        own = type(self.view).__dict__.get("__doc__")
        return inspect.cleandoc(own) if own else ""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        errors = dict(COMMON_ERRORS)
        if self._is_paged_by_number():
            errors.update(PAGE_PAST_THE_END)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(WRITE_ERRORS)
            errors.update(POST_CONFLICT if self.method == "POST" else UPDATE_CONFLICT)
        elif self.method == "DELETE":
            errors.update(DELETE_ERRORS)
            errors["409"] = delete_conflict(getattr(getattr(self.view, "queryset", None), "model", None))
        if self.method == "POST":
            errors.update(IDEMPOTENCY_ERRORS)
            operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
        if self.method in ("PUT", "PATCH", "DELETE"):
            operation.setdefault("parameters", []).append(IF_MATCH_PARAMETER)
        for code, (description, schema) in errors.items():
            # An operation that describes one of these errors itself keeps its words; its body and headers
            # are the same as everywhere.
            response = responses.setdefault(code, {"description": description})
            if "$ref" in response:
                continue
            response.setdefault("content", {"application/json": {"schema": schema}})
            # A throttle's 429 (apn_portal.api.throttling) and a sign-in lockout's both say when to retry.
            if code == "429":
                _add_headers(response, RETRY_AFTER_HEADER)
        self._add_success_headers(responses)
        # What anybody may call without a token (PortalPermission's public_actions): `{}` in security.
        if getattr(self.view, "action", None) in getattr(self.view, "public_actions", ()):
            security = operation.setdefault("security", [])
            if {} not in security:
                security.append({})
        return operation

    def _is_paged_by_number(self) -> bool:
        return (
            self.method == "GET"
            and self._is_list_view()
            and isinstance(self._get_paginator(), PortalPageNumberPagination)
        )

    def _add_success_headers(self, responses: dict) -> None:
        if self.method == "POST" and isinstance(self.view, IdempotentPostMixin):
            for code, response in responses.items():
                if str(code).startswith("2"):
                    _add_headers(response, REPLAYED_HEADER)
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        if (
            getattr(self.view, "action", None) in ETAG_ACTIONS
            and "200" in responses
            and model is not None
            and any(field.name == "updated_at" for field in model._meta.get_fields())
        ):
            _add_headers(responses["200"], ETAG_HEADER)


def add_error_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error schemas every operation refers to."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    return result


def overlapping_one_of_as_any_of(result, generator, request, public):
    """drf-spectacular postprocessing hook: a `oneOf` some value can match twice becomes an `anyOf`.

    drf-spectacular gives a blank-allowed URL or email field (a partner's `website`, a staff member's
    `email`) `oneOf: [{format: uri|email, maxLength: N}, {maxLength: 0}]`. OpenAPI 3.0 makes `format` an
    annotation, so for most validators and generated clients `""` matches both branches, and `oneOf`
    wants exactly one: a blank website is refused. Only a `oneOf` whose branches provably exclude each
    other (different types, or enums with no value in common, as a choice or blank) stays one.
    """
    schemas = result.get("components", {}).get("schemas", {})

    def resolved(branch: dict) -> dict:
        ref = branch.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return schemas.get(ref.rsplit("/", 1)[-1], {})
        return branch

    def exclusive(first: dict, second: dict) -> bool:
        first, second = resolved(first), resolved(second)
        types = (first.get("type"), second.get("type"))
        if None not in types and types[0] != types[1] and {"integer", "number"} != set(types):
            return True
        if "enum" in first and "enum" in second:
            return not any(value in second["enum"] for value in first["enum"])
        return False

    def walk(node) -> None:
        if isinstance(node, dict):
            branches = node.get("oneOf")
            if isinstance(branches, list) and not all(
                exclusive(first, second)
                for index, first in enumerate(branches)
                for second in branches[index + 1 :]
            ):
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
