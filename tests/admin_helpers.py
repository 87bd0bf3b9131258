"""Posting admin forms the way a browser does: the form's own initial values plus changes."""


def inline_management(response) -> dict:
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(formset.total_form_count())
        data[f"{formset.prefix}-INITIAL_FORMS"] = str(formset.initial_form_count())
        for form in formset.forms:
            for name, field in form.fields.items():
                value = form.initial.get(name, field.initial)
                if value is None or value is False:
                    continue
                data[form.add_prefix(name)] = getattr(value, "pk", value)
    return data


def admin_post(client, url, fields: dict, **extra):
    """GET the admin form, then POST it with `fields` and the inline management data."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = inline_management(page) | {k: v for k, v in fields.items() if v is not None}
    return client.post(url, data, **extra)
