"""Real answers and bodies validated against the published schema the way most clients read it: OpenAPI 3.0
makes `format` an annotation, so a validator (or a client generated from the schema) does not check that a
`uri` or an `email` is one. A blank website or email must then still match exactly one branch of a `oneOf`,
or the answer is refused as matching several."""

import copy

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.api.conftest import api_client
from tests.factories import PartnerFactory, PdmFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db


# The schema as served, fetched by the first test that asks (it takes seconds and reads no row).
_PUBLISHED = {}


@pytest.fixture
def schema():
    if "schema" not in _PUBLISHED:
        response = api_client().get("/api/v1/schema/")
        assert response.status_code == 200
        _PUBLISHED["schema"] = yaml.safe_load(response.content)
    return copy.deepcopy(_PUBLISHED["schema"])


def _json_schema(node):
    """OpenAPI 3.0's schema object as JSON Schema 2020-12: `nullable` becomes a null alternative, and the
    components are referred to as `$defs`."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key == "properties":
            out[key] = {name: _json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = _json_schema(value)
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _problems(schema, component: str, instance) -> list[str]:
    """What a validator that leaves `format` unchecked (no format checker) finds wrong with `instance`."""
    document = {"$ref": f"#/$defs/{component}"}
    document["$defs"] = {name: _json_schema(sub) for name, sub in schema["components"]["schemas"].items()}
    validator = Draft202012Validator(document)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]


def test_a_partner_without_a_website_is_answered_as_the_schema_says(schema):
    pdm = PdmFactory()
    PartnerFactory(slug="no-site", website="", is_published=True, pdm=pdm)
    response = api_client(pdm).get("/api/v1/partners/no-site/")
    assert response.status_code == 200
    assert response.json()["website"] == ""
    assert _problems(schema, "Partner", response.json()) == []


def test_a_staff_member_without_an_email_is_answered_as_the_schema_says(schema):
    pdm = PdmFactory()
    member = StaffMemberFactory(partner=PartnerFactory(pdm=pdm), email="")
    response = api_client(pdm).get(f"/api/v1/staff-members/{member.pk}/")
    assert response.status_code == 200
    assert response.json()["email"] == ""
    assert _problems(schema, "StaffMember", response.json()) == []


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("PartnerRequest", "website"),
        ("PatchedPartnerRequest", "website"),
        ("StaffMemberRequest", "email"),
        ("PatchedStaffMemberRequest", "email"),
    ],
)
def test_a_blank_website_or_email_may_be_sent(schema, component, field):
    # Only the field itself: the rest of the body is whatever the component requires, here left out.
    field_schema = copy.deepcopy(schema["components"]["schemas"][component]["properties"][field])
    schema["components"]["schemas"]["Probe"] = {"type": "object", "properties": {field: field_schema}}
    assert _problems(schema, "Probe", {field: ""}) == []
    # Still a string of at most its length, blank or not.
    assert _problems(schema, "Probe", {field: "x" * 300}) != []
    assert _problems(schema, "Probe", {field: 7}) != []


def _one_ofs(node, path=""):
    if isinstance(node, dict):
        if "oneOf" in node:
            yield path, node["oneOf"]
        for key, value in node.items():
            yield from _one_ofs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _one_ofs(value, f"{path}[{index}]")


def _values_of(schema, branch) -> set | None:
    """The values a branch is limited to (an enum, its own or that of the component it refers to)."""
    if "$ref" in branch:
        branch = schema["components"]["schemas"][branch["$ref"].rsplit("/", 1)[-1]]
    return set(branch["enum"]) if "enum" in branch else None


def test_no_value_matches_two_branches_of_a_one_of(schema):
    # What is left as a oneOf (a choice or blank, an error message as a list or a string) has branches
    # no value can match twice: different types, or enums with no value in common.
    for path, branches in _one_ofs(schema):
        for index, first in enumerate(branches):
            for second in branches[index + 1 :]:
                types = (first.get("type"), second.get("type"))
                values = (_values_of(schema, first), _values_of(schema, second))
                disjoint_types = None not in types and types[0] != types[1]
                disjoint_values = None not in values and not values[0] & values[1]
                assert disjoint_types or disjoint_values, (path, first, second)
