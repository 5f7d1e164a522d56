import os

from celery import Celery
from celery.signals import beat_init, celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")

app = Celery("apn_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
@beat_init.connect
def refuse_the_public_secret_key_before_starting(**kwargs):
    """The worker signs what its emails link to (a password reset), so it refuses the key settings.py
    publishes as the web process does (wsgi.py); beat too, run alone. Celery logs an exception a signal's
    handler raises and starts anyway: SystemExit is the one it lets through, and stops the process."""
    from django.core.exceptions import ImproperlyConfigured

    from apn_portal.settings_checks import refuse_the_public_secret_key

    try:
        refuse_the_public_secret_key()
    except ImproperlyConfigured as refused:
        raise SystemExit(f"ImproperlyConfigured: {refused}") from None


@celeryd_init.connect
def declare_queues_before_beat_starts(**kwargs):
    """On the embedded default's SQLite-file broker, a worker with embedded beat (`worker -B`) would
    otherwise create the queue's row from two processes at once on a fresh broker file, and kombu's
    SQLAlchemy transport lets the loser die on the unique name. Declared here, once, before either starts,
    both find it. Other brokers declare queues safely themselves."""
    if not str(app.conf.broker_url or "").startswith("sqla+"):
        return
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.amqp.queues.values():
            queue.bind(channel).declare()
