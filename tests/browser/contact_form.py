"""A customer filling in a partner's "Contact this partner" form, as the browser tests do."""


def contact_form_fill(page, message: str):
    """Fill the profile's contact form as Jane Doe of BigCorp, Germany, with `message`; returns the form."""
    form = page.locator("#contact")
    form.get_by_label("Your name").fill("Jane Doe")
    form.get_by_label("Work email").fill("jane@bigcorp.example")
    form.get_by_label("Company").fill("BigCorp")
    form.get_by_label("Country").select_option(label="Germany")
    form.get_by_label("How can this partner help?").fill(message)
    return form
