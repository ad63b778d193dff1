"""Forms of the account pages."""

from django import forms


class TokenCreateForm(forms.Form):
    """Create an API token for the current user."""

    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, such as the name of the script that uses it.",
    )
