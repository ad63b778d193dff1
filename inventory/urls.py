from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.HostListView.as_view(), name="hosts"),
    path("hosts.csv", views.host_export, name="export"),
    path("hosts/<str:address>/", views.HostDetailView.as_view(), name="host"),
    path("import/", views.ImportView.as_view(), name="import"),
    path("import/<int:pk>/", views.ImportRunView.as_view(), name="import-run"),
    path(
        "import/<int:pk>/apply/",
        views.ImportPreviewApplyView.as_view(),
        name="import-preview-apply",
    ),
    path("import/<int:pk>/progress/", views.ImportProgressView.as_view(), name="import-progress"),
    path("api/import/", views.ImportApiView.as_view(), name="api-import"),
    # Without the slash too: a redirect would turn a script's POST into a GET.
    path("api/import", views.ImportApiView.as_view()),
    path("api/import/<path:rest>", views.import_api_subpath),
]
