from django.urls import path

from incidents import api, openapi

app_name = "api"
urlpatterns = [
    path("incidents/", api.incidents, name="incidents"),
    path("incidents/<str:reference>/", api.incident, name="incident"),
    path("incidents/<str:reference>/updates/", api.incident_updates, name="incident_updates"),
    path("incidents/<str:reference>/timeline/", api.incident_timeline, name="incident_timeline"),
    path("severity-policies/", api.severity_policies, name="severity_policies"),
    path("severity-policies/<str:key>/", api.severity_policy, name="severity_policy"),
    path("openapi.json", openapi.openapi, name="openapi"),
]
