"""A partner's own signed-in area under /my/: tier scorecard, program enrollments, leads inbox, customer
references, profile preview and edits.

Every page reads only the signed-in user's own organisation: a lead of another partner is a 404, as if it
did not exist.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import date as date_filter

from apn_portal.admin_page_state import PAGE_STATE, fields_changed_on_page, shown_fields
from apn_portal.exceptions import ConflictError, DomainError, GoneError, PermissionDeniedError
from apn_portal.http import form_address, redirect_see_other
from apn_portal.pages import audience_required, form_error
from engagements.selectors import engagements_visible_to
from engagements.services import (
    engagement_create_from_contact_request,
    engagement_create_from_contact_request_check,
)
from partners.choices import ContactRequestStatus, ProfileChangeStatus
from partners.forms import (
    CustomerReferenceForm,
    LeadDeclineForm,
    LeadEngagementForm,
    NewCustomerReferenceForm,
    ProfileChangeForm,
)
from partners.models import Partner
from partners.selectors_partner_area import (
    PROFILE_REFERENCES,
    contact_request_status_counts,
    contact_requests_of_partner,
    enrollments_of_partner,
    partner_profile_preview,
    partner_scorecard,
    profile_change_pending,
    profile_change_reviewer,
    profile_changes_recent,
    reference_counts,
    reference_withdrawn,
    references_of_partner,
)
from partners.services import (
    contact_request_accept,
    contact_request_decline,
    profile_change_submit,
)
from partners.services_records import reference_delete, reference_submit, reference_update

LEADS_PER_PAGE = 20
REFERENCES_PER_PAGE = 20


# Signed-in staff of a partner only; anyone else signed in gets a 403 page that says where to go instead.
partner_staff_required = audience_required("partner")


def _own_partner(request) -> Partner:
    return Partner.objects.select_related("tier").get(pk=request.user.partner_id)


def _area_page(request, template: str, partner: Partner, section: str, context: dict, *, status: int = 200):
    """A page of the partner's area; the navigation's count of new leads comes from the area_nav context
    processor, as on every page that shows it."""
    context = {"partner": partner, "section": section, **context}
    return render(request, template, context, status=status)


@partner_staff_required
def scorecard(request):
    partner = _own_partner(request)
    return _area_page(
        request,
        "my/scorecard.html",
        partner,
        "scorecard",
        {"scorecard": partner_scorecard(partner), "reviewer": profile_change_reviewer(partner)},
    )


@partner_staff_required
def programs(request):
    partner = _own_partner(request)
    return _area_page(
        request,
        "my/programs.html",
        partner,
        "programs",
        {"enrollments": enrollments_of_partner(partner.pk), "reviewer": profile_change_reviewer(partner)},
    )


@partner_staff_required
def leads(request):
    partner = _own_partner(request)
    status = request.GET.get("status", "")
    if status not in ContactRequestStatus.values:
        status = ""
    paginator = Paginator(contact_requests_of_partner(partner.pk, status or None), LEADS_PER_PAGE)
    counts = contact_request_status_counts(partner.pk)
    return _area_page(
        request,
        "my/leads.html",
        partner,
        "leads",
        {
            "page_obj": paginator.get_page(request.GET.get("page")),
            "status": status,
            "status_label": ContactRequestStatus(status).label if status else "",
            "status_tabs": [(value, label, counts[value]) for value, label in ContactRequestStatus.choices],
            "lead_counts": counts,
        },
    )


def _own_lead(request, reference):
    return get_object_or_404(
        contact_requests_of_partner(request.user.partner_id).select_related(
            "partner", "responded_by", "engagement"
        ),
        reference=reference,
    )


def _lead_page(request, lead, decline_form=None, status=200, engagement_form=None):
    # Without an engagement, `lead.engagement` raises RelatedObjectDoesNotExist, an AttributeError.
    engagement = getattr(lead, "engagement", None)
    can_start = False
    if engagement is None:
        try:
            engagement_create_from_contact_request_check(user=request.user, contact_request=lead)
            can_start = True
        except DomainError:
            pass
    return _area_page(
        request,
        "my/lead_detail.html",
        lead.partner,
        "leads",
        {
            "lead": lead,
            "decline_form": decline_form or LeadDeclineForm(),
            "engagement": engagement,
            # Replaced on it since, the partner no longer sees the engagement: its title, but no link.
            "engagement_shown": engagement is not None
            and engagements_visible_to(request.user).filter(pk=engagement.pk).exists(),
            "can_start_engagement": can_start,
            "engagement_form": engagement_form or LeadEngagementForm(lead=lead),
        },
        status=status,
    )


@partner_staff_required
def lead_detail(request, reference):
    return _lead_page(request, _own_lead(request, reference))


@form_address("my:lead-detail")
@partner_staff_required
def lead_accept(request, reference):
    lead = _own_lead(request, reference)
    try:
        contact_request_accept(contact_request=lead, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"You accepted {lead.reference}. Reply to {lead.name} at {lead.email}.")
    return redirect_see_other("my:lead-detail", lead.reference)


@form_address("my:lead-detail")
@partner_staff_required
def lead_decline(request, reference):
    lead = _own_lead(request, reference)
    form = LeadDeclineForm(request.POST)
    # An invalid reason is sent as none, still to the service: a lead a colleague answered meanwhile is
    # refused whatever the reason, and then the form is gone from the page, so only a message shows.
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        contact_request_decline(contact_request=lead, user=request.user, reason=reason)
    except DomainError as exc:
        if exc.field in form.fields:
            if not form.has_error(exc.field):  # the form's own message says it already
                form_error(form, exc)
            return _lead_page(request, lead, form, status=400)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"You declined {lead.reference}.")
    return redirect_see_other("my:lead-detail", lead.reference)


@form_address("my:lead-detail")
@partner_staff_required
def lead_engagement(request, reference):
    lead = _own_lead(request, reference)
    form = LeadEngagementForm(request.POST)
    try:
        # Asked first: on a page older than a colleague's answer the form's input no longer matters.
        engagement_create_from_contact_request_check(user=request.user, contact_request=lead)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect_see_other("my:lead-detail", lead.reference)
    if not form.is_valid():
        return _lead_page(request, lead, engagement_form=form, status=400)
    try:
        engagement = engagement_create_from_contact_request(
            user=request.user, contact_request=lead, **form.cleaned_data
        )
    except (ConflictError, PermissionDeniedError) as exc:
        # Converted or declined by a colleague meanwhile: the page shows what became of it.
        messages.error(request, exc.message)
    except DomainError as exc:
        form_error(form, exc)
        return _lead_page(request, lead, engagement_form=form, status=400)
    else:
        messages.success(request, f"{lead.reference} is now the engagement “{engagement.title}”.")
    return redirect_see_other("my:lead-detail", lead.reference)


@partner_staff_required
def references(request):
    partner = _own_partner(request)
    paginator = Paginator(references_of_partner(partner.pk), REFERENCES_PER_PAGE)
    return _area_page(
        request,
        "my/references.html",
        partner,
        "references",
        {
            "page_obj": paginator.get_page(request.GET.get("page")),
            "counts": reference_counts(partner.pk),
            "reviewer": profile_change_reviewer(partner),
            "profile_references": PROFILE_REFERENCES,
        },
    )


def _own_reference(request, pk):
    """(the partner's reference `pk`, None), or (None, its last version) if the partner withdrew it since
    the page asking was opened (a colleague, or this user's first click of two): see
    _withdrawn_reference_page. A 404 for any other."""
    reference = references_of_partner(request.user.partner_id).filter(pk=pk).first()
    if reference is not None:
        return reference, None
    withdrawn = reference_withdrawn(request.user.partner_id, pk)
    if withdrawn is None:
        raise Http404("No such reference.")
    return None, withdrawn


def _withdrawn_reference_page(request, withdrawn):
    by = withdrawn.history_user
    who = "you" if by == request.user else (by.get_full_name() or by.username) if by else "a colleague"
    messages.info(
        request, f"Your reference for {withdrawn.customer_name} was withdrawn by {who}: it no longer exists."
    )
    return redirect_see_other("my:references")


def _reference_form_page(request, partner, form, reference=None):
    return _area_page(
        request,
        "my/reference_form.html",
        partner,
        "references",
        {"form": form, "reference": reference, "reviewer": profile_change_reviewer(partner)},
        status=400 if form.errors else 200,
    )


@partner_staff_required
def reference_new(request):
    partner = _own_partner(request)
    form = NewCustomerReferenceForm(data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reference, created = reference_submit(
                partner=partner,
                user=request.user,
                submission_token=form.submission_token(),
                **form.cleaned_values(),
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            if created:
                reviewer = profile_change_reviewer(partner)
                messages.success(
                    request,
                    f"Your reference for {reference.customer_name} was sent to {reviewer}; "
                    "it counts toward your tier once validated.",
                )
            else:
                # Sent twice (a double click, Back and resend): the reference the first one registered.
                messages.info(
                    request,
                    f"Your reference for {reference.customer_name} was already sent: it is listed once.",
                )
            return redirect_see_other("my:references")
    form.keep_a_submission_token()
    return _reference_form_page(request, partner, form)


@partner_staff_required
def reference_edit(request, pk):
    reference, withdrawn = _own_reference(request, pk)
    if withdrawn is not None:
        return _withdrawn_reference_page(request, withdrawn)
    partner = _own_partner(request)
    if reference.is_validated:
        messages.info(request, _validated_message(reference, partner))
        return redirect_see_other("my:references")
    form = CustomerReferenceForm(data=request.POST or None, instance=reference)
    if request.method == "POST" and form.is_valid():
        try:
            reference_update(reference=reference, user=request.user, **form.cleaned_data)
        except (PermissionDeniedError, GoneError) as exc:
            # Validated by the PDM, or withdrawn by a colleague, since the form was opened.
            messages.error(request, exc.message)
            return redirect_see_other("my:references")
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Your reference for {form.cleaned_data['customer_name']} was saved.")
            return redirect_see_other("my:references")
    return _reference_form_page(request, partner, form, reference)


@form_address("my:reference-edit")
@partner_staff_required
def reference_withdraw(request, pk):
    reference, withdrawn = _own_reference(request, pk)
    if withdrawn is not None:
        return _withdrawn_reference_page(request, withdrawn)
    try:
        reference_delete(reference=reference, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Your reference for {reference.customer_name} was withdrawn.")
    return redirect_see_other("my:references")


def _validated_message(reference, partner) -> str:
    return (
        f"Your reference for {reference.customer_name} is validated: it counts toward your tier, and it now "
        f"changes only through {profile_change_reviewer(partner)}."
    )


@partner_staff_required
def profile(request):
    partner = _own_partner(request)
    pending = profile_change_pending(partner)
    return _area_page(
        request,
        "my/profile.html",
        partner,
        "profile",
        {
            "profile": partner_profile_preview(partner),
            "pending_change": pending,
            "replaced": pending.replaced() if pending is not None else [],
            "recent_changes": profile_changes_recent(partner),
            "reviewer": profile_change_reviewer(partner),
        },
    )


@partner_staff_required
def profile_edit(request):
    partner = _own_partner(request)
    pending = profile_change_pending(partner)
    form = ProfileChangeForm(data=request.POST or None, partner=partner, pending=pending)
    if request.method == "POST" and form.is_valid():
        try:
            change, created = profile_change_submit(
                partner=partner,
                user=request.user,
                description=form.cleaned_data["description"],
                website=form.cleaned_data["website"],
                industries=form.cleaned_data["industries"],
                use_cases=form.cleaned_data["use_cases"],
                changed=fields_changed_on_page(form),
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            reviewer = profile_change_reviewer(partner)
            mine = request.user.pk
            replaced = change.replaced() if created else []
            colleagues = [kept for kept in replaced if kept.proposal.proposed_by_id != mine]
            if colleagues:
                # Laid over a colleague's proposal still waiting: what it keeps of theirs is said.
                earlier = colleagues[0]
                colleague = earlier.proposal.proposed_by or "a former colleague"
                sent_at = date_filter(earlier.proposal.created_at, "j M Y, H:i T")
                messages.success(
                    request,
                    f"Your changes were sent to {reviewer} with those {colleague} proposed on {sent_at} "
                    f"({earlier.fields_display()}), which were still waiting: your proposal keeps "
                    "them where you did not change the same field; they go live once approved.",
                )
            elif created:
                messages.success(
                    request, f"Your changes were sent to {reviewer}; they go live once approved."
                )
            elif change.status == ProfileChangeStatus.WITHDRAWN:
                messages.success(request, "Your waiting proposal was withdrawn: the profile stays as it is.")
            else:
                # Sent twice (a double click, Back and resend): the first one is what the PDM reviews.
                messages.info(
                    request, f"These changes are already waiting for {reviewer}; they go live once approved."
                )
            return redirect_see_other("my:profile")
    if form.unsent_draft:
        # What was typed on a page opened before its user was signed out comes with what that page showed:
        # compared with the profile as it now stands, every field left as the page had it would count as
        # changed, and a correction made meanwhile would be proposed back.
        page_state = form.unsent_draft_page_state
    else:
        # What the page showed when first opened, kept when it is shown again with what was typed, so
        # that only what its user changed is proposed (profile_change_submit's `changed`).
        page_state = request.POST.get(PAGE_STATE) or shown_fields(
            ProfileChangeForm(partner=partner, pending=pending)
        )
    return _area_page(
        request,
        "my/profile_edit.html",
        partner,
        "profile",
        {
            "form": form,
            "pending_change": pending,
            "reviewer": profile_change_reviewer(partner),
            "page_state": page_state,
        },
        status=400 if form.errors else 200,
    )
