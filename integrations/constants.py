"""Fixed values of the Qualys integration."""

ASSET_GROUP_TITLE = "LUMETA_Spectre_DISCOVERED"
SYNC_TASK_NAME = "Qualys sync"
SYNC_TASK_PATH = "integrations.tasks.run_scheduled_sync"

DEFAULT_POLLING_HOURS = 24
MIN_POLLING_HOURS = 1
MAX_POLLING_HOURS = 168

# Qualys platforms and their API hosts (Qualys's platform identification
# page and several public clients agree on these). EU3's host is given as
# qualys.it by some clients and qualys.eu by others; qualys.it is listed
# here and a custom host covers the other.
PLATFORMS = [
    ("US1", "qualysapi.qualys.com"),
    ("US2", "qualysapi.qg2.apps.qualys.com"),
    ("US3", "qualysapi.qg3.apps.qualys.com"),
    ("US4", "qualysapi.qg4.apps.qualys.com"),
    ("EU1", "qualysapi.qualys.eu"),
    ("EU2", "qualysapi.qg2.apps.qualys.eu"),
    ("EU3", "qualysapi.qg3.apps.qualys.it"),
    ("IN1", "qualysapi.qg1.apps.qualys.in"),
    ("CA1", "qualysapi.qg1.apps.qualys.ca"),
    ("AE1", "qualysapi.qg1.apps.qualys.ae"),
    ("UK1", "qualysapi.qg1.apps.qualys.co.uk"),
    ("AU1", "qualysapi.qg1.apps.qualys.com.au"),
    ("KSA1", "qualysapi.qg1.apps.qualysksa.com"),
    ("GOV1", "qualysapi.gov1.qualys.us"),
]

# Page names of the steps of a sync.
STEP_LABELS = {
    "connect": "Connecting to Qualys",
    "fetch_subscription": "Reading the subscription",
    "fetch_scanned_hosts": "Reading scanned hosts",
    "load_inventory": "Loading the inventory",
    "compute": "Computing the sets",
    "read_asset_group": "Reading the asset group",
    "store": "Storing the Qualys tables",
    "add_to_subscription": "Adding IPs to the subscription",
    "reread_subscription": "Reading the subscription again",
    "update_asset_group": "Updating the asset group",
    "record": "Recording the result",
}
