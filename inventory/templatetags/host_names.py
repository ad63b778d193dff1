"""Template filters for showing host names."""

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def dotted_breaks(name: str) -> SafeString:
    """Return ``name`` as HTML that a narrow table cell wraps only after a dot.

    Browsers also wrap after a hyphen, which splits a label such as
    ``host-192-0-2-1`` over two lines where it reads as two names. Each label
    is kept on one line, and ``<wbr>`` marks the place after each dot.
    Copying the text gives the name unchanged.
    """
    labels = escape(name).split(".")
    if len(labels) == 1:
        return mark_safe(f'<span class="name-label">{labels[0]}</span>')
    leading = [f'<span class="name-label">{label}.</span><wbr>' for label in labels[:-1]]
    return mark_safe("".join(leading) + f'<span class="name-label">{labels[-1]}</span>')
