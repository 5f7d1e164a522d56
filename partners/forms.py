"""Forms of the partner domain: the public contact form, and the admin's action forms."""

from django import forms
from django.db import models
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.dates import DatePicker, validate_plausible_date
from apn_portal.drafts import UnsentDraftMixin
from apn_portal.exceptions import DomainError
from apn_portal.fields import IdMultipleChoiceField
from apn_portal.forms import (
    REASON_MAX_LENGTH,
    FormerRoleHoldersKeptMixin,
    SubmissionTokenMixin,
    TextareaField,
    textarea_formfield,
)
from engagements.choices import ProcurementModel
from partners.models import (
    LOGO_CONTENT_TYPES,
    PROFILE_CHANGE_FIELDS,
    ContactRequest,
    CustomerReference,
    Partner,
    ProfileChangeRequest,
    Tier,
    partner_logo_name,
    validate_partner_logo,
)
from partners.services_records import partner_categories_check, partner_entry_tier

# Public forms: the contact form on a partner's profile ---------------------------------------------------


class ContactRequestForm(SubmissionTokenMixin, forms.ModelForm):
    """What a customer sends a partner from its profile. `website` is a honeypot: people never see it. Its
    submission token makes the same submit sent twice one request (partners.services.contact_request_submit).
    """

    honeypot_field = "website"

    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    class Meta:
        model = ContactRequest
        fields = ["name", "email", "company", "country", "message", "project_size", "timeline"]
        labels = {
            "name": "Your name",
            "email": "Work email",
            "company": "Company",
            "country": "Country",
            "message": "How can this partner help?",
            "project_size": "Project size (optional)",
            "timeline": "Timeline (optional)",
        }
        help_texts = {
            "email": "The partner replies to this address.",
            "message": "What you want to achieve, your setup today, any deadline. At most 5,000 characters.",
        }
        formfield_callback = textarea_formfield
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "name"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "company": forms.TextInput(attrs={"autocomplete": "organization"}),
            "country": forms.Select(attrs={"autocomplete": "country"}),
            "message": forms.Textarea(attrs={"rows": 6}),
        }
        error_messages = {
            "name": {"required": "Tell the partner your name."},
            "email": {
                "required": "Give a work email address so the partner can reply.",
                "invalid": "Enter an email address such as jane@company.com.",
            },
            "company": {"required": "Say which company you work for."},
            "country": {
                "required": "Choose your country.",
                "invalid_choice": "Choose a country from the list.",
            },
            "message": {
                "required": "Tell the partner what you need.",
                "max_length": "Keep the message to %(limit)s characters (it has %(count)s).",
            },
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "contact-%s")
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Choose a country"), *list(self.fields["country"].choices)[1:]]
        for name in ("project_size", "timeline"):
            self.fields[name].choices = [("", "Not sure yet"), *list(self.fields[name].choices)[1:]]

    @property
    def honeypot(self):
        return self[self.honeypot_field]

    def visible_fields(self):
        return [field for field in super().visible_fields() if field.name != self.honeypot_field]

    @property
    def fields_to_correct(self) -> list:
        """The fields the customer must correct; a refusal of the whole request (too many sent) is not one."""
        return [field for field in self.visible_fields() if field.errors]

    def is_spam(self) -> bool:
        """A filled honeypot: a bot. Call after is_valid()."""
        return bool(self.cleaned_data.get(self.honeypot_field))

    def clean_message(self):
        # Long enough? The model's validator says (validate_message_says_something), for the API too.
        return self.cleaned_data["message"].strip()

    def request_data(self) -> dict:
        """The cleaned values the service stores (without the honeypot)."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


# Admin forms: the partner form and the admin actions' intermediate pages ---------------------------------


def _https_by_default(db_field, **kwargs):
    # Called by Django as it builds this form's fields (Meta.formfield_callback), not by our code: the
    # admin then builds its own with `formfield_overrides`, but without this the class's own URL field
    # would guess "http" and warn of Django 6.0's change at import.
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return textarea_formfield(db_field, **kwargs)


class LogoField(forms.ImageField):
    """A partner's logo (validate_partner_logo, which the model field runs too)."""

    def to_python(self, data):
        # Before Django reads the image itself, which would report one too large for Pillow only as "not
        # an image".
        if data not in self.empty_values and hasattr(data, "size"):
            validate_partner_logo(data)
        upload = super().to_python(data)
        if upload is not None and getattr(upload, "image", None) is not None:
            # Stored under what it holds, not what it was called: it is served as its name says.
            upload.name = partner_logo_name(upload.name, upload.image.format)
        return upload

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.FileInput) and "accept" not in widget.attrs:
            attrs["accept"] = ",".join(LOGO_CONTENT_TYPES)
        return attrs


class PartnerAdminForm(FormerRoleHoldersKeptMixin, forms.ModelForm):
    """The admin's partner form. A partner joins on its ladder's entry tier, as through the API; a higher
    tier is a promotion, through the tier-change action, which records the reason. A PDM recorded before
    they left stays shown, and kept, until a current one is chosen (FormerRoleHoldersKeptMixin)."""

    former_role_holders = {"pdm": StaffRole.PDM}

    class Meta:
        model = Partner
        formfield_callback = _https_by_default
        fields = [
            "name",
            "slug",
            "partner_type",
            "pdm",
            "is_published",
            "description",
            "website",
            "logo",
            "categories",
            "industries",
            "use_cases",
        ]
        field_classes = {"logo": LogoField}
        error_messages = {
            # The choices are the current PDMs (Partner.pdm): somebody who left the provider, lost the role
            # or was deactivated is not one, though still in the PDM group.
            "pdm": {
                "invalid_choice": "Choose a current Partner Development Manager: an active member of the "
                "provider's staff with the PDM role. The one chosen has left the provider's staff, no longer "
                "holds the role, or was deactivated."
            }
        }

    def clean(self):
        cleaned = super().clean()
        partner_type = cleaned.get("partner_type", self.instance.partner_type)
        try:
            if self.instance.pk is None and partner_type:
                self.instance.tier = partner_entry_tier(partner_type)
            partner_categories_check(partner_type, cleaned.get("categories"))
        except DomainError as refusal:
            self.add_error(refusal.field, refusal.message)
        return cleaned


class PartnerTierChangeForm(forms.Form):
    to_tier = forms.ModelChoiceField(
        label="New tier",
        queryset=Tier.objects.none(),
        empty_label=None,
        help_text="A tier of the partner's ladder.",
    )
    reason = TextareaField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with the change, and shown in the partner's tier history.",
    )

    def __init__(self, *args, partner_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        tiers = Tier.objects.order_by("partner_type", "rank")
        if partner_types:
            tiers = tiers.filter(partner_type__in=partner_types)
        self.fields["to_tier"].queryset = tiers


class ReasonForm(forms.Form):
    reason = TextareaField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with the change, and shown to the partner.",
    )


CERTIFICATION_IMPORT_MAX_BYTES = 20 * 1024 * 1024


class CertificationImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV with a header row; at most 20 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CERTIFICATION_IMPORT_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB: split it and import the parts.")
        return upload


# The partner's own area (/my/): answering leads, proposing profile changes --------------------------------


class LeadDeclineForm(UnsentDraftMixin, forms.Form):
    reason = TextareaField(
        label="Why do you decline this request?",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the request for your colleagues; the customer does not see it.",
        error_messages={"required": "Say why you decline this request."},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "decline-%s")
        super().__init__(*args, **kwargs)


class ProfileChangeForm(UnsentDraftMixin, forms.ModelForm):
    """The profile text and tags a partner proposes; its PDM approves them before they go live."""

    website = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Your public website, such as https://www.example.com.",
    )

    class Meta:
        model = ProfileChangeRequest
        formfield_callback = textarea_formfield
        fields = ["description", "website", "industries", "use_cases"]
        field_classes = {"industries": IdMultipleChoiceField, "use_cases": IdMultipleChoiceField}
        labels = {"description": "About your company", "industries": "Industries you serve"}
        help_texts = {
            "description": "Shown on your public profile and searched by customers.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 8}),
            "industries": forms.CheckboxSelectMultiple,
            "use_cases": forms.CheckboxSelectMultiple,
        }

    @classmethod
    def shown_to(cls, user):
        # Industries and use cases are everybody's, named on every public profile.
        return cls(partner=user.partner) if user.partner_id else None

    def __init__(self, *args, partner: Partner, pending: ProfileChangeRequest | None = None, **kwargs):
        if not kwargs.get("data"):
            # The live profile, with what the waiting proposal changes laid over it: sending it again loses
            # none of what was proposed, and keeps what the PDM corrected meanwhile in the rest (the
            # service proposes what differs from the live profile).
            changed = set(pending.fields_changed) if pending is not None else set()

            def value(name):
                source = pending if name in changed else partner
                held = getattr(source, name)
                return list(held.all()) if name in ("industries", "use_cases") else held

            kwargs.setdefault("initial", {name: value(name) for name in PROFILE_CHANGE_FIELDS})
        super().__init__(*args, **kwargs)


class LeadEngagementForm(UnsentDraftMixin, forms.Form):
    """What the partner says when a lead becomes an engagement; the customer and the person on the
    customer's team come from the lead itself. The description starts as the lead's message for the
    partner to trim: the message was for that partner only, the description is read by all on the
    engagement."""

    workload = forms.CharField(
        label="Workload",
        max_length=200,
        help_text="What moves or is built, e.g. “WordPress site”.",
        error_messages={"required": "Say what the work is about."},
    )
    title = forms.CharField(
        label="Title",
        max_length=200,
        required=False,
        help_text="Leave empty for the company and the workload.",
    )
    description = TextareaField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Everyone on the engagement reads it: the customer and every partner on it, now or added "
        "later. It starts as the customer's message to you; keep only what they may all read.",
    )
    procurement_model = forms.ChoiceField(
        label="How the customer buys", choices=ProcurementModel.choices, initial=ProcurementModel.DIRECT
    )
    contract_start = forms.DateField(
        label="Contract starts",
        validators=[validate_plausible_date],
        widget=DatePicker(),
    )
    contract_end = forms.DateField(
        label="Contract's last day",
        validators=[validate_plausible_date],
        widget=DatePicker(),
        help_text="Access the customer grants you ends with it.",
    )

    def __init__(self, *args, lead: ContactRequest | None = None, **kwargs):
        kwargs.setdefault("auto_id", "engagement-%s")
        kwargs.setdefault(
            "initial",
            {"contract_start": timezone.localdate(), "description": lead.message if lead else ""},
        )
        super().__init__(*args, **kwargs)


class CustomerReferenceForm(UnsentDraftMixin, forms.ModelForm):
    """A launched customer project as the partner's staff register or correct it; its PDM validates it."""

    class Meta:
        model = CustomerReference
        formfield_callback = textarea_formfield
        fields = ["customer_name", "summary", "services_used", "launched_on", "is_public"]
        labels = {
            "customer_name": "Customer",
            "summary": "What you built for them",
            "launched_on": "Launched on",
            "is_public": "Public: customers may see it on our profile once it is validated",
        }
        help_texts = {
            "customer_name": "The customer's organisation, as your PDM can confirm it.",
            "services_used": "The cloud services the project runs on, separated by commas, e.g. “EC2, RDS”.",
            "launched_on": "The day the project went live.",
        }
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 5}),
            "launched_on": DatePicker(),
        }
        error_messages = {
            "customer_name": {"required": "Name the customer."},
            "summary": {"required": "Say what you built for the customer."},
            "launched_on": {"required": "Give the day the project went live."},
        }


class NewCustomerReferenceForm(SubmissionTokenMixin, CustomerReferenceForm):
    """Registering a reference: sent twice (a double click, Back and resend), it is still one reference."""
