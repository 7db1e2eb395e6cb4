from django.urls import path

from statuspage import views

app_name = "statuspage"

urlpatterns = [
    path("status/", views.page, name="page"),
    path("status.json", views.summary_json, name="json"),
    path("status/feed.atom", views.feed, name="feed"),
    path("status/brand.css", views.brand_css, name="brand_css"),
    path("status/subscribe/", views.subscribe_form, name="subscribe_form"),
    path("status/subscribe/new/", views.subscribe, name="subscribe"),
    path("status/subscribe/confirm/<str:token>/", views.confirm, name="confirm"),
    path("status/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("status/done/<slug:what>/", views.notice, name="notice"),
    path("status/manage/", views.manage, name="manage"),
    path("status/manage/<int:pk>/", views.component_status_set, name="component_status_set"),
]
