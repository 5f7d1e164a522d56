"""Public Find-a-Partner pages: the search and the partner profile. (Being built: issue 3.)"""

from django.http import Http404, HttpResponse


def partner_search(request):
    return HttpResponse("Find-a-Partner is being built.")


def partner_profile(request, slug):
    raise Http404("Profiles are being built.")
