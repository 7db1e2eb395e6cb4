from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("", views.insights_page, name="page"),
    path("incidents/", views.insights_incidents, name="incidents"),
    path("<slug:chart>.csv", views.insights_csv, name="csv"),
]
