"""The columns of a customers CSV, in the order the import's documentation (docs/customer-import.md)
gives them: the file's contract, read by the import and by the benchmarks' file generator. A
module of constants alone (the channel registry's consent columns included), importable before
Django is set up."""

from central.channels import registry as channels

COLUMNS = (
    "external_id",
    "branch_code",
    "civility",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address_line1",
    "postal_code",
    "city",
    "country",
    "segment",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "interests",
    "last_purchase_date",
    "lifetime_value",
    "preferred_channel",
    *(name for channel in channels.codes() for name in (f"consent_{channel}", f"consent_{channel}_date")),
    "consent_source",
    "objection",
    "objection_date",
)
REQUIRED_COLUMNS = ("external_id", "branch_code")
