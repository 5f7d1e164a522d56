"""Keep Find-a-Partner's search entries current when a partner or anything it is searched by changes.

Tags, tiers and their names are partners.signals' (one receiver there moves `updated_at` and refreshes
the entries). Each receiver names the partners concerned as a subquery, so it costs one statement and no
read (an edit of a record that can move to another partner also reads whose it was: partners.signals). Bulk
writes (bulk_create, QuerySet.update) send no signals: whoever makes them calls
partners.search_index.partner_search_refresh once at the end.
"""

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

from partners.models import (
    Certification,
    CustomerReference,
    Industry,
    Office,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    UseCase,
)
from partners.search_index import (
    VOCABULARY_CACHE_KEY,
    partner_search_refresh,
    search_caches_drop_with_the_change,
    search_index_available,
)
from partners.signals import deletion_of, moved_from

DISPATCH_PREFIX = "partners.search:"


def _partner_saved(sender, instance, raw=False, **kwargs):
    if not raw and search_index_available():
        partner_search_refresh([instance.pk])


def _partner_deleted(sender, instance, **kwargs):
    # Its entry goes with it (cascade), but not the front page's counts cached with it in them.
    search_caches_drop_with_the_change()


def _child_saved(sender, instance, raw=False, **kwargs):
    if raw or not search_index_available():
        return
    # Moved to another partner (the admin allows it): the one it left changes too.
    partner_search_refresh([pk for pk in (instance.partner_id, moved_from(instance)) if pk is not None])


def _child_deleted(sender, instance, origin=None, **kwargs):
    if deletion_of(origin, Partner) or not search_index_available():
        return
    partner_search_refresh([instance.partner_id])


def _certification_saved(sender, instance, raw=False, **kwargs):
    if raw or not search_index_available():
        return
    people = [pk for pk in (instance.staff_member_id, moved_from(instance)) if pk is not None]
    partner_search_refresh(StaffMember.objects.filter(pk__in=people).values("partner_id"))


def _certification_deleted(sender, instance, origin=None, **kwargs):
    # Deleting a person takes their certifications with them: the person's own deletion refreshes their
    # partner once, rather than once per certification.
    if deletion_of(origin, Partner) or deletion_of(origin, StaffMember) or not search_index_available():
        return
    partner_search_refresh(StaffMember.objects.filter(pk=instance.staff_member_id).values("partner_id"))


def _vocabulary_changed(sender, **kwargs):
    # On every database: the filters' choices and labels come from this cache.
    cache.delete(VOCABULARY_CACHE_KEY)


def _program_saved(sender, instance, created, raw=False, **kwargs):
    if not raw and not created and search_index_available():
        partner_search_refresh(ProgramEnrollment.objects.filter(program=instance).values("partner_id"))


def connect():
    """Called from PartnersConfig.ready()."""
    post_save.connect(_partner_saved, sender=Partner, dispatch_uid=DISPATCH_PREFIX + "partner")
    post_delete.connect(
        _partner_deleted, sender=Partner, dispatch_uid=f"{DISPATCH_PREFIX}partner{post_delete}"
    )
    for model in (Office, ProgramEnrollment, CustomerReference, StaffMember):
        post_save.connect(
            _child_saved, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}{model.__name__}{post_save}"
        )
        post_delete.connect(
            _child_deleted, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}{model.__name__}{post_delete}"
        )
    post_save.connect(
        _certification_saved, sender=Certification, dispatch_uid=f"{DISPATCH_PREFIX}cert{post_save}"
    )
    post_delete.connect(
        _certification_deleted, sender=Certification, dispatch_uid=f"{DISPATCH_PREFIX}cert{post_delete}"
    )
    post_save.connect(_program_saved, sender=Program, dispatch_uid=DISPATCH_PREFIX + "program")
    for model in (Tier, Program, Industry, UseCase):
        for signal in (post_save, post_delete):
            signal.connect(
                _vocabulary_changed,
                sender=model,
                dispatch_uid=f"{DISPATCH_PREFIX}vocabulary{model.__name__}{signal}",
            )
