from django.urls import path

from runbooks import views

app_name = "runbooks"

# Fixed words come before <slug>; the service never hands out these words as slugs.
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("import/", views.import_markdown, name="import"),
    path("generate/", views.generate, name="generate"),
    path("stale/", views.stale, name="stale"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/steps/<int:step_pk>/", views.step_record, name="step_record"),
    path("runs/<int:pk>/finish/", views.drill_finish, name="drill_finish"),
    path("attach/<str:reference>/", views.attach, name="attach"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/export.md", views.export, name="export"),
    path("<slug:slug>/edit/", views.edit, name="edit"),
    path("<slug:slug>/history/", views.history, name="history"),
    path("<slug:slug>/history/<int:version>/", views.revision, name="revision"),
    path("<slug:slug>/history/<int:version>/restore/", views.restore, name="restore"),
    path("<slug:slug>/drill/", views.drill_start, name="drill"),
]
