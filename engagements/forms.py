"""Forms of the customer's and partner's pages, and of the admin's stage confirmation. They only collect
input: the services decide."""

from django import forms
from django.core.exceptions import ValidationError

from apn_portal.dates import DatePicker, validate_plausible_date
from apn_portal.drafts import UnsentDraftMixin
from apn_portal.forms import REASON_MAX_LENGTH, SubmissionTokenMixin, TextareaField
from engagements.choices import AccessScope, EngagementStage, stage_after
from engagements.models import STAGE_NOTE_MAX_LENGTH, AwsAccount, EngagementPartner
from engagements.selectors import customers_visible_to, engagement_partners_open_to_grants


class ReasonForm(UnsentDraftMixin, forms.Form):
    reason = TextareaField(
        label="Why is the access revoked?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded with the revocation and shown to the partner.",
    )


class ContractEndForm(UnsentDraftMixin, forms.Form):
    """Ending one partner's contract early, on the engagement page: one per contract, told apart by its
    prefix (contract_end_prefix)."""

    reason = TextareaField(
        label="Why does the contract end early?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded with the contract and sent to the partner. Its access to your accounts ends at "
        "once; the contract's last day becomes today.",
    )


def contract_end_prefix(engaged_pk) -> str:
    return f"end-contract-{engaged_pk}"


class StageAdvanceForm(UnsentDraftMixin, forms.Form):
    # The step the page offered: sent again (a double click, a resubmit, a second tab) the service finds the
    # engagement already past it and refuses, instead of moving it one step further each time.
    to_stage = forms.ChoiceField(label="Step", choices=EngagementStage.choices, widget=forms.HiddenInput)
    reached_on = forms.DateField(
        label="Reached on",
        required=False,
        validators=[validate_plausible_date],
        widget=DatePicker(),
        help_text="Leave empty for today (the customer's day, in its time zone).",
    )
    note = forms.CharField(label="Note", required=False, max_length=STAGE_NOTE_MAX_LENGTH)


class _OfferedStagesField(forms.MultipleChoiceField):
    """Engagements ticked on the page, each as "<pk>:<stage>" with the step the page offered it. A step
    offered earlier is no longer among the choices once taken, yet it is accepted here (for an engagement of
    the selection): the service then refuses it in its own words, "already past …", which says what
    happened better than "not a valid choice"."""

    selection: frozenset[int] = frozenset()

    def valid_value(self, value):
        pk, _, stage = str(value).partition(":")
        try:
            return int(pk) in self.selection and stage in EngagementStage.values
        except ValueError:
            return False


class StageAdvanceConfirmForm(forms.Form):
    """The admin's "advance selected engagements" confirmation: it names the step each engagement moves
    to, and the action passes that step on as to_stage, so that the page sent twice advances them once."""

    targets = _OfferedStagesField(
        label="Advance",
        widget=forms.CheckboxSelectMultiple,
        help_text="Each moves to the step named, dated today; one already past it stays where it is.",
    )

    def __init__(self, *args, engagements, **kwargs):
        super().__init__(*args, **kwargs)
        offered = []
        for engagement in engagements:
            step = stage_after(engagement.stage)
            if step is not None:
                offered.append(
                    (
                        f"{engagement.pk}:{step.value}",
                        f"{engagement.title} ({engagement.customer}): {engagement.get_stage_display()} "
                        f"→ {step.label}",
                    )
                )
        field = self.fields["targets"]
        field.choices = offered
        field.initial = [value for value, _ in offered]
        field.selection = frozenset(engagement.pk for engagement in engagements)

    def clean_targets(self) -> dict[int, str]:
        """{engagement pk: the step offered to it}."""
        return {int(pk): stage for pk, _, stage in (v.partition(":") for v in self.cleaned_data["targets"])}


class _AccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.account_id} · {obj.name}"


class _EngagedPartnerChoice(forms.ModelChoiceField):
    """Offers the partners in `queryset`, yet accepts any in `accepted`, as _OfferedStagesField does: one
    offered when the page was shown may have stopped being offered since (its engagement cancelled, the
    partner replaced meanwhile), and the service then refuses it in its own words beside the field, which
    says what happened better than "not a valid choice". Anything outside `accepted` is not a valid choice
    and reveals nothing."""

    accepted = EngagementPartner.objects.none()

    def to_python(self, value):
        if value in self.empty_values:
            return None
        self.validate_no_null_characters(value)
        try:
            return self.accepted.get(pk=value)
        except (ValueError, TypeError, EngagementPartner.DoesNotExist, ValidationError):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            ) from None

    def label_from_instance(self, obj):
        return (
            f"{obj.partner.name}, {obj.get_role_display().lower()} on “{obj.engagement.title}” "
            f"(contract to {obj.contract_end:%d %b %Y})"
        )


class AccessGrantForm(UnsentDraftMixin, SubmissionTokenMixin, forms.Form):
    """A customer's access administrator delegates one account to one engaged partner."""

    account = _AccountChoice(queryset=AwsAccount.objects.none(), label="Account")
    engagement_partner = _EngagedPartnerChoice(
        queryset=EngagementPartner.objects.none(),
        label="Partner",
        help_text="Partners whose contract with you is in force.",
    )
    role_arn = forms.CharField(
        label="Role ARN",
        max_length=300,
        help_text="The IAM role the partner assumes: arn:aws:iam::<that account's id>:role/<role name>.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    scope = forms.ChoiceField(label="Scope", choices=AccessScope.choices)
    mfa_required = forms.BooleanField(
        label="Require our MFA token for security-relevant changes",
        required=False,
        initial=True,
        help_text="Always on for administration access.",
    )
    expires_on = forms.DateField(
        label="Last day of access",
        required=False,
        validators=[validate_plausible_date],
        widget=DatePicker(),
        help_text="Leave empty to end with the partner's contract; it cannot be later.",
    )

    @classmethod
    def shown_to(cls, user):
        # Their own organisation's accounts and partners, which its pages show all its staff, access
        # administrators or not.
        customer = customers_visible_to(user).first() if user.customer_id else None
        return None if customer is None else cls(customer=customer)

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["account"].queryset = customer.accounts.order_by("account_id")
        # Offered: only the partners the service would accept today, none whose contract ended or has not
        # begun, nor any on a cancelled engagement. Accepted: any of the customer's own, for the service
        # to refuse in its words one that was offered when the page was shown.
        partner = self.fields["engagement_partner"]
        partner.queryset = (
            engagement_partners_open_to_grants(customer)
            .select_related("partner", "engagement")
            .order_by("partner__name", "id")
        )
        partner.accepted = EngagementPartner.objects.filter(engagement__customer=customer).select_related(
            "partner", "engagement"
        )

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "account": data["account"],
            "engagement_partner": data["engagement_partner"],
            "role_arn": data["role_arn"],
            "scope": data["scope"],
            "mfa_required": data["mfa_required"],
            "last_day": data.get("expires_on"),
            "submission_token": self.submission_token(),
        }
