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

#: The names CRM exports give the columns (French and English), each to its Relais column: a file
#: whose headers are all columns or synonyms imports with no mapping step. Compared normalised
#: (trimmed, casefolded, accents removed, spaces and dashes as "_": csv_files.normalise_header).
SYNONYMS = {
    **dict.fromkeys(("code client", "code_client", "id client", "numero client", "n° client", "no client", "identifiant client", "identifiant", "ref client", "reference client", "customer id", "customer_id", "client id", "crm id", "id"), "external_id"),
    **dict.fromkeys(("code magasin", "magasin", "code agence", "agence", "code boutique", "boutique", "point de vente", "code point de vente", "store code", "store", "store id", "branch", "branch code", "shop code"), "branch_code"),
    **dict.fromkeys(("civilite", "titre", "title", "salutation", "gender"), "civility"),
    **dict.fromkeys(("prenom", "first name", "firstname", "given name"), "first_name"),
    **dict.fromkeys(("nom", "nom de famille", "last name", "lastname", "surname", "family name"), "last_name"),
    **dict.fromkeys(("e-mail", "mail", "courriel", "adresse e-mail", "adresse mail", "email address", "e-mail address", "adresse email"), "email"),
    **dict.fromkeys(("portable", "telephone portable", "tel portable", "mobile phone", "cell", "cellphone", "gsm", "numero de portable", "tel mobile", "telephone mobile"), "mobile"),
    **dict.fromkeys(("adresse", "adresse 1", "adresse1", "address", "address 1", "street", "rue"), "address_line1"),
    **dict.fromkeys(("cp", "code postal", "zip", "zip code", "postcode", "post code"), "postal_code"),
    **dict.fromkeys(("ville", "commune", "town"), "city"),
    **dict.fromkeys(("pays",), "country"),
    **dict.fromkeys(("segment client",), "segment"),
    **dict.fromkeys(("centres d'interet", "centres d interet", "interets"), "interests"),
    **dict.fromkeys(("date dernier achat", "dernier achat", "last purchase"), "last_purchase_date"),
    **dict.fromkeys(("valeur client", "ca cumule", "chiffre d'affaires", "ltv", "customer lifetime value"), "lifetime_value"),
    **dict.fromkeys(("canal prefere", "preferred channel"), "preferred_channel"),
    **dict.fromkeys(("source du consentement", "origine du consentement", "source"), "consent_source"),
    **dict.fromkeys(("opposition",), "objection"),
    **dict.fromkeys(("date opposition", "date d'opposition"), "objection_date"),
}
