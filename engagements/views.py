"""Signed-in pages for customers, partners and the provider's staff: organisations, accounts, engagements
and who holds access. Every page starts from the `*_visible_to(user)` selectors, so another organisation's
record is a 404, as if it did not exist; every change goes through a service."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F
from django.shortcuts import get_object_or_404
from django.urls import reverse

from apn_portal.exceptions import DomainError
from apn_portal.http import form_address, plain_id, redirect_see_other
from apn_portal.pages import audience_required, form_error, not_for_you, render_page
from engagements import selectors, services
from engagements.choices import STAGE_ORDER, AccessGrantState, EngagementStage
from engagements.forms import (
    AccessGrantForm,
    ContractEndForm,
    ReasonForm,
    StageAdvanceForm,
    contract_end_prefix,
)
from engagements.models import Customer, access_end_in_words

PER_PAGE = 25
ENDED_GRANTS_PER_PAGE = 50
# What the person fills in on the engagement page's "Mark … reached" form (to_stage is hidden).
ADVANCE_FORM_FIELDS = ("reached_on", "note")


# Organisations ----------------------------------------------------------------------------------------


def _organisation_context(customer: Customer, user) -> dict:
    accounts = selectors.customer_accounts(customer)
    return {
        "customer": customer,
        "account_tree": selectors.account_tree(accounts),
        "access_administrators": selectors.customer_access_administrators(customer).order_by(
            "first_name", "last_name", "username"
        ),
        "engagements": selectors.engagement_list(customer.engagements.all())[:PER_PAGE],
        "can_manage_access": selectors.user_can_manage_access(user, customer),
    }


def _customer_with_people(queryset):
    return queryset.select_related("account_manager", "solutions_architect", "tam")


@audience_required("customer")
def organisation(request):
    customer = get_object_or_404(_customer_with_people(selectors.customers_visible_to(request.user)))
    return render_page(
        request,
        "engagements/organisation.html",
        {**_organisation_context(customer, request.user), "section": "organisation"},
    )


@audience_required("provider")
def customer_list(request):
    customers = (
        _customer_with_people(selectors.customers_assigned_to(request.user))
        .annotate(
            account_count=Count("accounts", distinct=True),
            engagement_count=Count("engagements", distinct=True),
        )
        .order_by("name", "id")
    )
    page = Paginator(customers, PER_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "engagements/customer_list.html", {"page_obj": page, "section": "customers"})


@audience_required("provider")
def customer_detail(request, slug):
    customer = get_object_or_404(
        _customer_with_people(selectors.customers_visible_to(request.user)), slug=slug
    )
    grants = selectors.access_grant_list(selectors.live_grants().filter(account__customer=customer))
    return render_page(
        request,
        "engagements/customer_detail.html",
        {
            **_organisation_context(customer, request.user),
            "live_grants": grants.order_by("account__account_id", "id"),
            "can_revoke": selectors.user_can_revoke_access(request.user, customer),
            # Staff are told how they name its access administrators, or who does, not the customer's line.
            "staff_view": True,
            "names_access_administrators": selectors.user_names_access_administrators(request.user, customer)
            and selectors.user_can_manage_customer(request.user, customer),
            "section": "customers",
        },
    )


# Engagements ------------------------------------------------------------------------------------------


@audience_required("customer", "partner", "provider")
def engagement_list(request):
    engagements = selectors.engagement_list(selectors.engagements_visible_to(request.user)).order_by(
        "-created_at", "-id"
    )
    page = Paginator(engagements, PER_PAGE).get_page(request.GET.get("page"))
    return render_page(
        request, "engagements/engagement_list.html", {"page_obj": page, "section": "engagements"}
    )


def _stage_steps(engagement):
    reached = {event.stage: event for event in engagement.stage_events.all()}
    current = STAGE_ORDER.index(EngagementStage(engagement.stage))
    return [
        {"stage": stage, "event": reached.get(stage.value), "done": i < current, "current": i == current}
        for i, stage in enumerate(STAGE_ORDER)
    ]


def _offer_contract_ends(user, engagement, end_form=None) -> None:
    """Give each contract `user` may end early now an `end_form`: `end_form` for the one it was sent for
    (refused, with what was typed), an empty one for the others."""
    if not selectors.user_can_end_contracts(user, engagement.customer):
        return
    today = engagement.customer.local_today()
    for engaged in engagement.engagement_partners.all():
        if selectors.engaged_partner_end_problem(engaged, today) is None:
            prefix = contract_end_prefix(engaged.pk)
            sent = end_form is not None and end_form.prefix == prefix
            engaged.end_form = end_form if sent else ContractEndForm(prefix=prefix)


@audience_required("customer", "partner", "provider")
def engagement_detail(request, pk, advance_form=None, end_form=None, status=200):
    user = request.user
    engagements = selectors.engagement_detail(user, selectors.engagements_visible_to(user))
    engagement = get_object_or_404(engagements, pk=pk)
    next_stage = selectors.engagement_next_stage_for(user, engagement)
    grants = [grant for engaged in engagement.engagement_partners.all() for grant in engaged.visible_grants]
    _offer_contract_ends(user, engagement, end_form)
    return render_page(
        request,
        "engagements/engagement_detail.html",
        {
            "engagement": engagement,
            "lead": selectors.engagement_lead_shown_to(user, engagement),
            "steps": _stage_steps(engagement),
            "timeline": selectors.engagement_timeline(engagement),
            "grants": grants,
            "can_advance": next_stage is not None,
            "next_stage": next_stage,
            "advance_form": advance_form or StageAdvanceForm(initial={"to_stage": next_stage}),
            "end_form": end_form,
            "section": "engagements",
        },
        status=status,
    )


@form_address("engagements:engagement-detail")
@audience_required("customer", "partner", "provider")
def engagement_advance(request, pk):
    engagement = get_object_or_404(selectors.engagements_visible_to(request.user), pk=pk)
    form = StageAdvanceForm(request.POST)
    if form.has_error("to_stage"):
        return _stale_advance(
            request, pk, "This form was out of date: the journey below is as it stands now."
        )
    if form.is_valid():
        try:
            event = services.engagement_stage_advance(
                user=request.user,
                engagement=engagement,
                to_stage=form.cleaned_data["to_stage"],
                reached_on=form.cleaned_data["reached_on"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            # Only a date or a note the person can correct is shown on the form. Anything else (the step
            # already taken, the engagement on hold, closed or at its last step, or no longer theirs)
            # is said above the journey: the form may no longer be shown at all.
            if error.field not in ADVANCE_FORM_FIELDS:
                return _stale_advance(request, pk, error.message, status=error.status_code)
            form_error(form, error)
        else:
            messages.success(request, f"“{engagement.title}” reached {event.get_stage_display()}.")
            return redirect_see_other("engagements:engagement-detail", pk=engagement.pk)
    return engagement_detail(request, pk, advance_form=form, status=400)


def _stale_advance(request, pk, message: str, status: int = 400):
    """The step the form offered is not the next one any more (sent twice, or someone else recorded it,
    put the engagement on hold or closed it): say so above the journey as it is now, whose form offers the
    step that now comes next, if any. The submitted form is not shown again: it would offer the stale step
    once more."""
    messages.error(request, message)
    return engagement_detail(request, pk, status=status)


@form_address("engagements:engagement-detail")
@audience_required("customer", "partner", "provider")
def engagement_partner_end(request, pk):
    """One partner's contract on the engagement ended early (its form on the engagement page names it in
    `contract`), with the reason."""
    engaged = get_object_or_404(
        selectors.engagement_partners_visible_to(request.user).select_related(
            "engagement__customer", "partner"
        ),
        engagement_id=pk,
        pk=plain_id(request.POST.get("contract", "")),
    )
    customer = engaged.engagement.customer
    if not selectors.user_can_end_contracts(request.user, customer):
        return not_for_you(request, f"{customer.name}'s access administrators")
    form = ContractEndForm(request.POST, prefix=contract_end_prefix(engaged.pk))
    if form.is_valid():
        try:
            services.engagement_partner_end(
                user=request.user, engagement_partner=engaged, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            if error.field != "reason":
                # Ended or replaced meanwhile, or the engagement cancelled: the page, as it is now, no
                # longer offers to end it, so it is said above.
                messages.error(request, error.message)
                return engagement_detail(request, pk, status=error.status_code)
            form_error(form, error)
        else:
            messages.success(
                request,
                f"{engaged.partner.name}'s contract on “{engaged.engagement.title}” has ended, and any "
                "access it held under it with it.",
            )
            return redirect_see_other("engagements:engagement-detail", pk=pk)
    return engagement_detail(request, pk, end_form=form, status=400)


# Access -----------------------------------------------------------------------------------------------


@audience_required("customer")
def access(request):
    """Who can access my accounts: live grants by account, then those that ended, latest first, a page at
    a time (`page`), so that the oldest is still there to read."""
    customer = get_object_or_404(selectors.customers_visible_to(request.user))
    live = selectors.access_grant_list(selectors.live_grants().filter(account__customer=customer))
    ended = (
        selectors.access_grant_list(selectors.customer_access_grants(customer))
        .exclude(pk__in=live.values("pk"))
        .order_by("-updated_at", "-id")
    )
    ended_page = Paginator(ended, ENDED_GRANTS_PER_PAGE).get_page(request.GET.get("page"))
    return render_page(
        request,
        "engagements/access.html",
        {
            "customer": customer,
            "live_grants": live.order_by("account__account_id", "engagement_partner__partner__name", "id"),
            "page_obj": ended_page,
            "can_manage_access": selectors.user_can_manage_access(request.user, customer),
            "can_revoke": selectors.user_can_revoke_access(request.user, customer),
            "section": "access",
        },
    )


@audience_required("customer")
def access_grant_create(request):
    customer = get_object_or_404(selectors.customers_visible_to(request.user))
    if not selectors.user_can_manage_access(request.user, customer):
        return not_for_you(request, f"{customer.name}'s access administrators")
    form = AccessGrantForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            grant, created = services.access_grant_submit(user=request.user, **form.service_arguments())
        except DomainError as error:
            form_error(form, error, aliases={"expires_at": "expires_on", "role_name": "role_arn"})
        else:
            if created:
                messages.success(request, f"{_grant_held(grant, customer, 'can now use')}.")
            else:
                _grant_sent_again(request, grant, customer)
            return redirect_see_other("engagements:access")
    if form.is_bound:
        form.keep_a_submission_token()
    return render_page(
        request,
        "engagements/access_grant_form.html",
        {"customer": customer, "form": form, "section": "access"},
        status=400 if form.errors else 200,
    )


def _grant_held(grant, customer, verb: str) -> str:
    # On the customer's clock, as the access pages show it (a repeat reads the grant back in UTC).
    ends = access_end_in_words(grant.expires_at, grant.last_day, customer.time_zone)
    return (
        f"{grant.engagement_partner.partner.name} {verb} role {grant.role_name} on account "
        f"{grant.account.account_id} until {ends}"
    )


def _grant_sent_again(request, grant, customer) -> None:
    """The grant form sent again (a double click, Back and resend): the grant the first submit made, as
    it is now. Revoked or expired meanwhile, the partner has no access through it, and is not told it
    has."""
    state = grant.state
    if state == AccessGrantState.LIVE:
        messages.info(request, f"This grant was already sent: {_grant_held(grant, customer, 'can use')}.")
        return
    if state == AccessGrantState.REVOKED:
        who = f"{grant.revoked_by} has since revoked it" if grant.revoked_by else "it has since been revoked"
        when = customer.local_time(grant.revoked_at)
        why = grant.revocation_reason.strip()
        ended = f"{who} ({when:%d %b %Y %H:%M %Z}): {why}{'' if why[-1:] in '.!?' else '.'}"
    else:
        ends = access_end_in_words(grant.expires_at, grant.last_day, customer.time_zone)
        ended = f"it has since expired, at {ends}."
    messages.warning(
        request,
        f"This grant was already sent, and {ended} {grant.engagement_partner.partner.name} no longer has "
        f"role {grant.role_name} on account {grant.account.account_id}.",
    )


@audience_required("customer", "provider")
def access_revoke(request, pk):
    """A confirmation page (GET) and the revocation itself (POST), with the reason."""
    grants = selectors.access_grant_list(selectors.access_grants_visible_to(request.user))
    grant = get_object_or_404(grants, pk=pk)
    customer = grant.account.customer
    if not selectors.user_can_revoke_access(request.user, customer):
        return not_for_you(request, f"{customer.name}'s access administrators")
    if request.user.customer_id:
        back = reverse("engagements:access")
    else:
        back = reverse("engagements:customer-detail", args=[customer.slug])
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.access_grant_revoke(user=request.user, grant=grant, reason=form.cleaned_data["reason"])
        except DomainError as error:
            form_error(form, error)
        else:
            messages.success(
                request,
                f"{grant.engagement_partner.partner.name} no longer has role {grant.role_name} on account "
                f"{grant.account.account_id}.",
            )
            return redirect_see_other(back)
    return render_page(
        request,
        "engagements/access_revoke.html",
        {"grant": grant, "form": form, "cancel_url": back, "section": "access"},
        status=400 if form.errors else 200,
    )


@audience_required("partner")
def grants_held(request):
    """The access a partner holds in its customers' accounts, live first."""
    grants = selectors.access_grant_list(selectors.access_grants_visible_to(request.user)).order_by(
        F("revoked_at").asc(nulls_first=True), "-expires_at", "id"
    )
    page = Paginator(grants, PER_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "engagements/grants_held.html", {"page_obj": page, "section": "grants"})
