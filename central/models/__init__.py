"""Central's models, one module per concept (see docs/architecture.md, "Central's models by concept").

Every model keeps the ``central`` app and its table; this package re-exports each of them and the
choices and constants that go with them, so that ``from central.models import Campaign`` reads the
same as before the split.
"""

from central.models.arbitration import ArbitrationRun, Candidate, Contact, Reason
from central.models.budgets import Budget
from central.models.calendar import (
    AUDIENCE_KINDS,
    TARGETING_CRITERIA,
    CalendarFeedToken,
    CalendarPeriod,
    DeadlineReminder,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationEvent,
    ParticipationStatus,
)
from central.models.campaigns import (
    CAMPAIGN_OPEN_STATUSES,
    WITHDRAWAL_BLOCKING_STATUSES,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    LocalSlotValues,
    NationalTargetReview,
    TargetOverride,
)
from central.models.customers import (
    Channel,
    Civility,
    ConsentEvent,
    ConsentStatus,
    Customer,
    CustomerImport,
    CustomerImportMapping,
    OwnershipTransfer,
    SignupRequest,
    TransferStatus,
    reachable_condition,
)
from central.models.delivery import Delivery, DeliveryReason, DeliveryStatus, TrackingEvent
from central.models.identity import AWS_REGION_PATTERN, ESP_BACKENDS, SECRET_FIELDS, SendingIdentity
from central.models.printing import PrinterSettings, PrintFile, PrintHandoff, PrintHandoffStatus
from central.models.purchases import Purchase
from central.models.rules import NetworkRules, NetworkRulesEvent, Origin, Suppression

__all__ = [
    "AUDIENCE_KINDS",
    "AWS_REGION_PATTERN",
    "CAMPAIGN_OPEN_STATUSES",
    "ESP_BACKENDS",
    "SECRET_FIELDS",
    "TARGETING_CRITERIA",
    "WITHDRAWAL_BLOCKING_STATUSES",
    "ArbitrationRun",
    "Budget",
    "CalendarFeedToken",
    "CalendarPeriod",
    "Campaign",
    "CampaignEvent",
    "CampaignStatus",
    "Candidate",
    "Channel",
    "Civility",
    "ConsentEvent",
    "ConsentStatus",
    "Contact",
    "Customer",
    "CustomerImport",
    "CustomerImportMapping",
    "DeadlineReminder",
    "Delivery",
    "DeliveryReason",
    "DeliveryStatus",
    "LocalSlotValues",
    "NationalTargetReview",
    "NetworkRules",
    "NetworkRulesEvent",
    "Operation",
    "OperationMode",
    "OperationStatus",
    "Origin",
    "OwnershipTransfer",
    "Participation",
    "ParticipationEvent",
    "ParticipationStatus",
    "PrintFile",
    "PrintHandoff",
    "PrintHandoffStatus",
    "PrinterSettings",
    "Purchase",
    "Reason",
    "SendingIdentity",
    "SignupRequest",
    "Suppression",
    "TargetOverride",
    "TrackingEvent",
    "TransferStatus",
    "reachable_condition",
]
