from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: login throttling (django-axes), password reset and change (Django's own
    views, project templates), and what the admin role may do to users and groups."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
