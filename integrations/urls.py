from django.urls import path
from django.views.generic import RedirectView

from . import views, views_sync

app_name = "integrations"

urlpatterns = [
    path("", views.IntegrationListView.as_view(), name="index"),
    # The list is Settings > Integrations, so its own address leads there too.
    path("integrations/", RedirectView.as_view(pattern_name="integrations:index"), name="list"),
    path("integrations/qualys/", views.QualysSettingsView.as_view(), name="qualys"),
    path(
        "integrations/qualys/test-connection/",
        views.QualysConnectionTestView.as_view(),
        name="qualys-test",
    ),
    path("integrations/qualys/sync/", views_sync.SyncNowView.as_view(), name="sync-now"),
    path(
        "integrations/qualys/sync/preview/",
        views_sync.SyncPreviewView.as_view(),
        name="sync-preview",
    ),
    path(
        "integrations/qualys/sync/progress.json",
        views_sync.SyncProgressView.as_view(),
        name="sync-progress",
    ),
    path(
        "integrations/qualys/sync/runs/<int:pk>/",
        views_sync.SyncRunDetailView.as_view(),
        name="sync-run",
    ),
    path(
        "integrations/qualys/sync/runs/<int:pk>/<str:which>-ranges.txt",
        views_sync.SyncRunRangesView.as_view(),
        name="sync-run-ranges",
    ),
]
