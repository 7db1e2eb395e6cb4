from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views
from config import views
from core import api

urlpatterns = [
    path("health", views.health, name="health"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by email and password change, Django's own views (templates/registration/).
    path("accounts/password_reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/alerts/", include("integrations.urls")),
    # The JSON API; each app adds its router from its AppConfig.ready().
    path("api/v1/", include((api.urls(), "api"))),
    path("notifications/", include("notifications.urls")),
    path("runbooks/", include("runbooks.urls")),
    path("insights/", include("insights.urls")),
    # A page's acknowledge link, which works without logging in (signed, single-use, expiring).
    path("paging/", include("paging.urls")),
    path("oncall/", include("oncall.urls")),
    # The dashboard and the incident page are the paths asked most (every open one polls), so
    # incidents is tried first; no pattern of these three overlaps another's.
    path("", include("incidents.urls")),
    path("", include("postmortems.urls")),
    path("", include("statuspage.urls")),
]
# Uploaded logos, served by Django only while DEBUG (`make run`); static() adds nothing otherwise.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
