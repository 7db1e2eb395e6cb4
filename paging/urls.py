from django.urls import path

from paging import views

app_name = "paging"
urlpatterns = [
    path("acknowledge/<str:token>/", views.acknowledge, name="acknowledge"),
]
