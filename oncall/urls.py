from django.urls import path

from oncall import views

app_name = "oncall"

urlpatterns = [
    path("", views.index, name="index"),
    path("you/", views.you, name="you"),
    path("handoff/", views.handoff, name="handoff"),
    path("schedules/<str:key>/", views.schedule_detail, name="schedule"),
    path("calendar/", views.calendar_feed, name="calendar_feed"),
    path("calendar/<str:token>.ics", views.calendar_ics, name="calendar_ics"),
]
