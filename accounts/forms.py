"""Forms of the account pages."""

from django import forms

from .models import ApiToken


class TokenCreateForm(forms.Form):
    """Create an API token for the current user."""

    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, such as the name of the script that uses it.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        """Reject a name that one of the user's tokens in use already has.

        The token list distinguishes tokens by name, so two with one name
        leave a user guessing which to revoke.
        """
        name = self.cleaned_data["name"].strip()
        in_use = ApiToken.objects.filter(user=self.user, revoked_at__isnull=True)
        if self.user is not None and in_use.filter(name__iexact=name).exists():
            raise forms.ValidationError(
                f"You already have a token named “{name}”. Give this one another name, or "
                "revoke the other first."
            )
        return name
