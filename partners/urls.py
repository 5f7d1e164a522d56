from django.urls import path

from partners.views import contact, search

app_name = "partners"

urlpatterns = [
    path("", search.partner_search, name="search"),
    path("contact/<slug:reference>/sent/", contact.contact_request_sent, name="contact-sent"),
    path("<slug:slug>/", search.partner_profile, name="profile"),
    path("<slug:slug>/contact/", contact.contact_request_create, name="contact"),
]
