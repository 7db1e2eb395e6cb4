from django.urls import path

from postmortems import views

app_name = "postmortems"

PM = "incidents/<str:reference>/postmortem/"
urlpatterns = [
    path("postmortems/", views.postmortem_list, name="list"),
    path("action-items/", views.action_item_list, name="action_items"),
    path("action-items/<int:item_id>/status/", views.action_item_status, name="action_item_status"),
    path(PM, views.editor, name="editor"),
    path(f"{PM}start/", views.start, name="start"),
    path(f"{PM}save/", views.save, name="save"),
    path(f"{PM}preview/", views.preview, name="preview"),
    path(f"{PM}workflow/", views.workflow, name="workflow"),
    path(f"{PM}timeline/", views.timeline_row_add, name="timeline_row_add"),
    path(f"{PM}timeline/starred/", views.timeline_starred_add, name="timeline_starred_add"),
    path(f"{PM}timeline/<int:row_id>/", views.timeline_row_change, name="timeline_row_change"),
    path(f"{PM}whys/", views.five_why_add, name="five_why_add"),
    path(f"{PM}whys/<int:why_id>/delete/", views.five_why_delete, name="five_why_delete"),
    path(f"{PM}action-items/", views.action_item_add, name="action_item_add"),
    path(f"{PM}revisions/", views.revisions, name="revisions"),
    path(f"{PM}revisions/<int:version>/restore/", views.revision_restore, name="revision_restore"),
    path(f"{PM}export.md", views.export_markdown, name="export"),
    path(f"{PM}print/", views.print_view, name="print"),
]
