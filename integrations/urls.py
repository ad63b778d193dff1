from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.IntegrationListView.as_view(), name="index"),
    path("integrations/qualys/", views.QualysSettingsView.as_view(), name="qualys"),
    path(
        "integrations/qualys/test-connection/",
        views.QualysConnectionTestView.as_view(),
        name="qualys-test",
    ),
]
