"""Each text a client sends through the API holds as much as the page that takes the same text, and the
schema says so (`maxLength`): an integrator can store nothing the pages would refuse, nor be refused what a
person may type. A page with no limit on a text has none in the API either."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from engagements.forms import AccessGrantForm, StageAdvanceForm
from engagements.forms import ReasonForm as AccessRevokeForm
from partners.forms import ContactRequestForm, CustomerReferenceForm, LeadDeclineForm, LeadEngagementForm
from support.forms import CaseReplyForm, SupportCaseForm

# (the page's form, its field; the schema's request component, its property): the same text.
SAME_TEXT = [
    (SupportCaseForm, "subject", "SupportCaseRequest", "subject"),
    (SupportCaseForm, "description", "SupportCaseRequest", "description"),
    (CaseReplyForm, "body", "CaseReplyRequest", "body"),
    (AccessRevokeForm, "reason", "RevokeReasonRequest", "reason"),
    (StageAdvanceForm, "note", "StageAdvanceRequest", "note"),
    (AccessGrantForm, "role_arn", "AccessGrantRequest", "role_arn"),
    (LeadDeclineForm, "reason", "ReasonRequest", "reason"),
    (LeadEngagementForm, "workload", "LeadEngagementRequest", "workload"),
    (LeadEngagementForm, "title", "LeadEngagementRequest", "title"),
    (LeadEngagementForm, "description", "LeadEngagementRequest", "description"),
    (ContactRequestForm, "name", "ContactRequestRequest", "name"),
    (ContactRequestForm, "company", "ContactRequestRequest", "company"),
    (ContactRequestForm, "message", "ContactRequestRequest", "message"),
    (CustomerReferenceForm, "customer_name", "CustomerReferenceRequest", "customer_name"),
    (CustomerReferenceForm, "summary", "CustomerReferenceRequest", "summary"),
    (CustomerReferenceForm, "services_used", "CustomerReferenceRequest", "services_used"),
]


@pytest.fixture(scope="module")
def request_schemas():
    # The document /api/v1/schema/ serves, built once for every pair.
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


@pytest.mark.parametrize(
    ("form", "field", "component", "name"),
    SAME_TEXT,
    ids=[f"{component}.{name}" for _, _, component, name in SAME_TEXT],
)
def test_the_api_takes_each_text_up_to_its_pages_limit(request_schemas, form, field, component, name):
    page_limit = form.base_fields[field].max_length
    assert request_schemas[component]["properties"][name].get("maxLength") == page_limit
