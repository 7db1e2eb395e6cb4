from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("alertmanager/", views.alertmanager, name="alertmanager"),
    path("generic/", views.generic, name="generic"),
]
