from django.urls import path

from postmortems import api

app_name = "postmortems_api"
urlpatterns = [
    path("incidents/<str:reference>/postmortem/", api.incident_postmortem, name="incident_postmortem"),
]
