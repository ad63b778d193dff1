from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.HostListView.as_view(), name="hosts"),
]
