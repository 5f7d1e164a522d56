"""Signed-in support pages under /my/support/: the customer's support page (plan, plan comparison, TAM,
cases and a new-case form), and the case pages that customers, partners and the provider's support staff
share. Every page starts from the `*_visible_to(user)` selectors, so another organisation's case is a 404,
as if it did not exist; every change goes through a service."""

import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apn_portal.exceptions import DomainError
from apn_portal.http import form_address, redirect_see_other
from apn_portal.pages import audience_of, audience_required, form_error, render_page
from engagements.selectors import customers_visible_to
from support import selectors, services
from support.choices import CaseStatus, ReplySide, Severity
from support.forms import CaseReplyForm, CaseStatusForm, SupportCaseForm
from support.models import SupportCase

PER_PAGE = 25
HISTORY_SHOWN = 10


def _case_page(request, cases, status_filter):
    if status_filter in CaseStatus.values:
        cases = cases.filter(status=status_filter)
    cases = selectors.case_list(cases)
    return Paginator(cases, PER_PAGE).get_page(request.GET.get("page"))


ACCOUNTS_NAMED = 3  # in the severity help, per plan: the rest are counted


def _severities_text(plan) -> str:
    allowed = selectors.plan_severities(plan)
    if not allowed:
        return "none, account and billing only"
    return ", ".join(Severity(value).label.lower() for value in allowed)


def _severity_help(plan, account_plans=()) -> str:
    """What the new-case form says a customer's technical cases can be: by its organisation-wide `plan`,
    and, when some of its accounts have a plan of their own (`account_plans`: (account id, plan) pairs),
    by each of those too, since a case takes the plan of its account. The plans' targets are prefetched
    (or one query each, for a handful of plans at most)."""
    if not account_plans:
        allowed = selectors.plan_severities(plan)
        if not allowed:
            return f"The {plan.name} plan includes no technical support: open an account and billing case."
        return (
            f"Technical cases on your {plan.name} plan: {_severities_text(plan)}. Account and billing: "
            "general guidance."
        )
    accounts_on: dict[int, tuple[object, list[str]]] = {}
    for account_id, account_plan in account_plans:
        accounts_on.setdefault(account_plan.pk, (account_plan, []))[1].append(account_id)
    parts = [f"{plan.name} (your other accounts): {_severities_text(plan)}"]
    for account_plan, account_ids in accounts_on.values():
        named = ", ".join(account_ids[:ACCOUNTS_NAMED])
        if len(account_ids) > ACCOUNTS_NAMED:
            named += f" and {len(account_ids) - ACCOUNTS_NAMED} more"
        accounts = "account" if len(account_ids) == 1 else "accounts"
        parts.append(f"{account_plan.name} ({accounts} {named}): {_severities_text(account_plan)}")
    return (
        "Technical cases depend on the account's plan. "
        + ". ".join(parts)
        + ". Account and billing: general guidance."
    )


def case_time_zone(user, customer) -> str:
    """The zone a case page shows its times in, always named beside them: a customer's staff see their
    organisation's own zone; partners and the provider's staff, whose lists mix customers across the world,
    see every case in the portal's zone, so two cases opened together read the same time."""
    return customer.time_zone if user.customer_id else settings.TIME_ZONE


def _case_form(user, data=None, plan=None, account_plans=()):
    return SupportCaseForm(
        data,
        accounts=selectors.accounts_open_for_cases(user),
        severity_help=_severity_help(plan, account_plans) if plan is not None else "",
        show_customer=not user.customer_id,
    )


# The customer's support page ------------------------------------------------------------------------------


@audience_required("customer", "partner", "provider")
def support_home(request):
    if audience_of(request.user) != "customer":
        return redirect_see_other("support:case-list")
    customer = get_object_or_404(customers_visible_to(request.user).select_related("tam"))
    subscription, plan = selectors.customer_plan(customer)
    account_subscriptions = list(selectors.current_account_subscriptions(customer))
    plans = list(
        selectors.plans_for_comparison(
            {plan.pk, *(s.plan_id for s in account_subscriptions)}, on=customer.local_today()
        )
    )
    plans_by_pk = {p.pk: p for p in plans}
    return render_page(
        request,
        "support/home.html",
        {
            "section": "support",
            "customer": customer,
            "subscription": subscription,
            "plan": plan,
            "move": selectors.plan_move(plan),
            "account_subscriptions": [(s, selectors.plan_move(s.plan)) for s in account_subscriptions],
            "tam": selectors.tam_of(customer, subscription),
            "tam_text": selectors.tam_coverage_text(subscription, plan),
            "plans": plans,
            "comparison": selectors.plan_comparison(plans),
            "history": selectors.subscription_history(customer)[:HISTORY_SHOWN],
            "page_obj": _case_page(
                request, selectors.cases_visible_to(request.user), request.GET.get("status")
            ),
            "status_filter": request.GET.get("status", ""),
            "statuses": CaseStatus.choices,
            "case_time_zone": case_time_zone(request.user, customer),
            "case_form": _case_form(
                request.user,
                plan=plan,
                # The comparison's plans, whose targets are prefetched.
                account_plans=[
                    (s.account.account_id, plans_by_pk.get(s.plan_id, s.plan)) for s in account_subscriptions
                ],
            ),
            "support_page": "home",
        },
    )


# Cases ----------------------------------------------------------------------------------------------------


@audience_required("customer", "partner", "provider")
def case_list(request):
    if audience_of(request.user) == "customer":
        return redirect_see_other("support:home")
    return render_page(
        request,
        "support/case_list.html",
        {
            "section": "support",
            "page_obj": _case_page(
                request, selectors.cases_visible_to(request.user), request.GET.get("status")
            ),
            "status_filter": request.GET.get("status", ""),
            "statuses": CaseStatus.choices,
            "case_time_zone": case_time_zone(request.user, None),
            "can_open": selectors.accounts_open_for_cases(request.user).exists(),
            "sees_all": selectors.user_sees_all_support(request.user),
            "support_page": "cases",
        },
    )


@audience_required("customer", "partner")
def case_new(request):
    plan, account_plans = None, []
    if audience_of(request.user) == "customer":
        # The plans' severities stay explained after a refused submit too: that is when they matter most.
        customer = get_object_or_404(customers_visible_to(request.user))
        plan = selectors.customer_plan(customer)[1]
        account_plans = [
            (s.account.account_id, s.plan)
            for s in selectors.current_account_subscriptions(customer).prefetch_related(
                "plan__response_targets"
            )
        ]
    form = _case_form(request.user, request.POST or None, plan=plan, account_plans=account_plans)
    if request.method == "POST" and form.is_valid():
        try:
            case, created = services.support_case_submit(
                user=request.user, submission_token=form.submission_token(), **form.cleaned_values()
            )
        except DomainError as error:
            form_error(form, error)
        else:
            if created:
                messages.success(request, f"Case #{case.pk} is open.{_due_text(request.user, case)}")
            else:
                # Sent twice (a double click, Back and resend): the case the first one opened.
                messages.info(request, f"This case was already sent: it is case #{case.pk}.")
            return redirect_see_other("support:case-detail", pk=case.pk)
    form.keep_a_submission_token()
    return render_page(
        request,
        "support/case_form.html",
        {"section": "support", "case_form": form, "support_page": "new"},
        status=400 if request.method == "POST" else 200,
    )


def _due_text(user, case: SupportCase) -> str:
    if case.first_response_due_at is None:
        return ""
    zone = case_time_zone(user, case.customer)
    local = timezone.localtime(case.first_response_due_at, timezone=zoneinfo.ZoneInfo(zone))
    return f" A first response is due by {local:%a %d %b %Y, %H:%M %Z}."


@audience_required("customer", "partner", "provider")
def case_detail(request, pk, reply_form=None, status=200):
    case = get_object_or_404(selectors.case_detail(selectors.cases_visible_to(request.user)), pk=pk)
    side = selectors.responder_side(request.user, case)
    requester = selectors.user_is_case_requester(request.user, case)
    allowed = selectors.case_settable_statuses(request.user, case)
    can_reply = bool(side or requester) and case.status != CaseStatus.CLOSED
    reply_form = reply_form or CaseReplyForm()
    return render_page(
        request,
        "support/case_detail.html",
        {
            "section": "support",
            "case": case,
            "case_time_zone": case_time_zone(request.user, case.customer),
            "replies": case.replies.all(),
            "can_reply": can_reply,
            "reply_form": reply_form,
            # A refused reply, or one sent signed out (apn_portal.drafts), the page can no longer take (the
            # case was closed meanwhile): shown back, so what was typed is not lost.
            "unsent_reply": reply_form["body"].value()
            if not can_reply and (reply_form.is_bound or reply_form.unsent_draft)
            else "",
            "status_form": CaseStatusForm(allowed=allowed),
            "can_change_status": bool(allowed),
            "can_escalate": side == ReplySide.PARTNER_SUPPORT and case.with_partner and case.is_active,
            "responder_side": side,
            "support_page": "case",  # the area's Support link is current; none of the support tabs
        },
        status=status,
    )


def _case_refusal(request, pk, error: DomainError, reply_form=None):
    """A refusal about the case as it is now (closed or changed meanwhile, or no longer this user's to
    act on): said above the case, whose forms may no longer be shown at all."""
    messages.error(request, error.message)
    return case_detail(request, pk, reply_form=reply_form, status=error.status_code)


@form_address("support:case-detail")
@audience_required("customer", "partner", "provider")
def case_reply(request, pk):
    case = get_object_or_404(selectors.cases_visible_to(request.user), pk=pk)
    form = CaseReplyForm(request.POST)
    if form.is_valid():
        try:
            _reply, created = services.support_case_reply_submit(
                user=request.user,
                case=case,
                body=form.cleaned_data["body"],
                submission_token=form.submission_token(),
            )
        except DomainError as error:
            form.keep_a_submission_token()
            if error.field not in form.fields:
                return _case_refusal(request, pk, error, reply_form=form)
            form_error(form, error)
        else:
            if created:
                messages.success(request, "Your reply was added.")
            else:
                # Sent twice (a double click, Back and resend): the reply the first one added.
                messages.info(request, "This reply was already sent: it is on the case once.")
            return redirect_see_other("support:case-detail", pk=case.pk)
    form.keep_a_submission_token()
    return case_detail(request, pk, reply_form=form, status=400)


@form_address("support:case-detail")
@audience_required("customer", "partner", "provider")
def case_status(request, pk):
    case = get_object_or_404(selectors.cases_visible_to(request.user), pk=pk)
    # Any status passes the form: the service says whether this user may set it on the case as it is now.
    form = CaseStatusForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError("Choose one of the statuses offered.", field="status")
        case = services.support_case_status_change(
            user=request.user, case=case, status=form.cleaned_data["status"]
        )
    except DomainError as error:
        return _case_refusal(request, pk, error)
    messages.success(request, f"Case #{case.pk} is now {case.get_status_display().lower()}.")
    return redirect_see_other("support:case-detail", pk=case.pk)


@form_address("support:case-detail")
@audience_required("partner")
def case_escalate(request, pk):
    case = get_object_or_404(selectors.cases_visible_to(request.user), pk=pk)
    try:
        services.support_case_escalate(user=request.user, case=case)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Case #{case.pk} was passed on to the provider's support.")
    return redirect_see_other("support:case-detail", pk=case.pk)
