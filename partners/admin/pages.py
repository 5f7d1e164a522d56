"""Pages the admin actions share."""

from django.template.response import TemplateResponse


def action_form_page(modeladmin, request, *, action, title, intro, objects, describe, form, submit_label):
    """The intermediate page of an action that needs more input (a reason, a tier) before it runs."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": title,
        "intro": intro,
        "items": [(obj.pk, describe(obj)) for obj in objects],
        "form": form,
        "action": action,
        "submit_label": submit_label,
        "cancel_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/partners/action_form.html", context)
