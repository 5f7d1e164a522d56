from django.shortcuts import redirect


def redirect_see_other(*args, **kwargs):
    """A redirect after a POST that the browser follows with a GET (303), so a reload never re-posts."""
    response = redirect(*args, **kwargs)
    response.status_code = 303
    return response
