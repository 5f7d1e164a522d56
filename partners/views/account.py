"""A partner's own signed-in area: scorecard, leads inbox, profile. (Being built: issue 3.)"""

from django.http import Http404


def scorecard(request):
    raise Http404("The partner area is being built.")
