from django.urls import path

from incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/new/", views.declare, name="declare"),
    path("incidents/<str:reference>/", views.incident_detail, name="detail"),
    path("incidents/<str:reference>/updates/", views.update_post, name="update_post"),
    path("incidents/<str:reference>/severity/", views.severity_change, name="severity_change"),
    path("incidents/<str:reference>/status/", views.status_change, name="status_change"),
    path("incidents/<str:reference>/roles/", views.roles_assign, name="roles_assign"),
    path("incidents/<str:reference>/notes/", views.note_add, name="note_add"),
    path("incidents/<str:reference>/milestones/", views.milestone_set, name="milestone_set"),
    path("incidents/<str:reference>/impact/", views.impact_update, name="impact_update"),
    path("incidents/<str:reference>/publish/", views.publish, name="publish"),
    path("incidents/<str:reference>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("incidents/<str:reference>/restriction/", views.restriction_set, name="restriction_set"),
    path("incidents/<str:reference>/participants/", views.participants_add, name="participants_add"),
    path(
        "incidents/<str:reference>/drafts/<int:draft_id>/approve/",
        views.update_draft_approve,
        name="update_draft_approve",
    ),
    path(
        "incidents/<str:reference>/drafts/<int:draft_id>/discard/",
        views.update_draft_discard,
        name="update_draft_discard",
    ),
    path("incidents/<str:reference>/snooze/", views.update_snooze, name="update_snooze"),
    path("incidents/<str:reference>/events/<int:event_id>/star/", views.event_star, name="event_star"),
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
]
