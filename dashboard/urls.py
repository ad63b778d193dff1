from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="index"),
    path("summary.json", views.summary_json, name="summary"),
    path("host/<str:address>/", views.HostDetailView.as_view(), name="host"),
    path("<slug:slug>.csv", views.coverage_export, name="export"),
    path("<slug:slug>/", views.CoverageListView.as_view(), name="list"),
]
