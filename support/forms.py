"""Forms of the support pages. They only collect input: the services decide."""

from django import forms

from apn_portal.drafts import UnsentDraftMixin
from apn_portal.forms import SubmissionTokenMixin, TextareaField
from engagements.models import AwsAccount
from support.choices import CaseStatus, CaseType, Severity
from support.models import CASE_TEXT_MAX_LENGTH
from support.selectors import accounts_open_for_cases


class _AccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        owner = f" ({obj.customer.name})" if self.show_customer else ""
        return f"{obj.account_id} · {obj.name}{owner}"


class SupportCaseForm(UnsentDraftMixin, SubmissionTokenMixin, forms.Form):
    """A new case. Its submission token makes a submit sent twice one case (support_case_submit)."""

    account = _AccountChoice(queryset=AwsAccount.objects.none(), label="Account")
    case_type = forms.ChoiceField(label="Type", choices=CaseType.choices, initial=CaseType.TECHNICAL)
    severity = forms.ChoiceField(
        label="Severity", choices=Severity.choices, initial=Severity.GENERAL_GUIDANCE
    )
    subject = forms.CharField(label="Subject", max_length=200)
    description = TextareaField(
        label="Description",
        max_length=CASE_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What happens, since when, what you tried, and the resources involved.",
    )

    @classmethod
    def shown_to(cls, user):
        # The accounts the new-case page offers them (support.views._case_form), and none of anyone else's.
        return cls(accounts=accounts_open_for_cases(user), show_customer=not user.customer_id)

    def __init__(self, *args, accounts, severity_help: str = "", show_customer: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts.select_related("customer").order_by(
            "customer__name", "account_id"
        )
        self.fields["account"].show_customer = show_customer
        if severity_help:
            self.fields["severity"].help_text = severity_help


class CaseReplyForm(UnsentDraftMixin, SubmissionTokenMixin, forms.Form):
    """A reply. Its submission token makes a submit sent twice one reply (support_case_reply_submit)."""

    body = TextareaField(
        label="Your reply", max_length=CASE_TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 5})
    )


class CaseStatusForm(UnsentDraftMixin, forms.Form):
    status = forms.ChoiceField(label="Set the status to", choices=CaseStatus.choices)

    def __init__(self, *args, allowed=None, **kwargs):
        """`allowed`: the statuses to offer; None accepts any status (the service decides)."""
        super().__init__(*args, **kwargs)
        if allowed is not None:
            self.fields["status"].choices = [(value, CaseStatus(value).label) for value in allowed]
