"""Contact requests sent from a partner's profile. (Being built: issue 3.)"""

from django.http import Http404


def contact_request_create(request, slug):
    raise Http404("Contact requests are being built.")


def contact_request_sent(request, reference):
    raise Http404("Contact requests are being built.")
