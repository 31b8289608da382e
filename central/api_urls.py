from django.urls import path

from central.budgets import api as budget_api
from central.calendar import api as calendar_api
from central.campaigns import api as campaigns_api
from central.conflicts import api as conflict_api
from central.customers import api
from central.purchases import api as purchase_api
from central.rules import api as arbitration_api

urlpatterns = [
    path("customers/", api.CustomerListApi.as_view(), name="api-customer-list"),
    path("customers/<str:public_id>/", api.CustomerDetailApi.as_view(), name="api-customer-detail"),
    path("customers/<str:public_id>/erase/", api.CustomerEraseApi.as_view(), name="api-customer-erase"),
    path("customers/<str:public_id>/why/", arbitration_api.CustomerWhyApi.as_view(), name="api-customer-why"),
    path("customer-imports/", api.CustomerImportCreateApi.as_view(), name="api-customer-import-create"),
    path(
        "customer-imports/<str:public_id>/",
        api.CustomerImportDetailApi.as_view(),
        name="api-customer-import-detail",
    ),
    path("purchase-imports/", purchase_api.PurchaseImportCreateApi.as_view(), name="api-purchase-import-create"),
    path(
        "purchase-imports/<str:public_id>/",
        purchase_api.PurchaseImportDetailApi.as_view(),
        name="api-purchase-import-detail",
    ),
    path("budgets/", budget_api.BudgetListApi.as_view(), name="api-budget-list"),
    # The national calendar
    path("operations/", calendar_api.OperationListApi.as_view(), name="api-operation-list"),
    path("operations/<str:public_id>/", calendar_api.OperationDetailApi.as_view(), name="api-operation-detail"),
    path(
        "operations/<str:public_id>/publish/",
        calendar_api.OperationPublishApi.as_view(),
        name="api-operation-publish",
    ),
    path(
        "operations/<str:public_id>/participations/",
        calendar_api.ParticipationListApi.as_view(),
        name="api-operation-participations",
    ),
    path("campaigns/", campaigns_api.CampaignListApi.as_view(), name="api-campaign-list"),
    path("campaigns/<str:public_id>/", campaigns_api.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path(
        "campaigns/<str:public_id>/audience/",
        campaigns_api.CampaignAudienceApi.as_view(),
        name="api-campaign-audience",
    ),
    path(
        "campaigns/<str:public_id>/audience-count/",
        campaigns_api.CampaignAudienceCountApi.as_view(),
        name="api-campaign-audience-count",
    ),
    path(
        "campaigns/<str:public_id>/clashes/",
        campaigns_api.CampaignClashesApi.as_view(),
        name="api-campaign-clashes",
    ),
    path("campaigns/<str:public_id>/target/", campaigns_api.CampaignTargetApi.as_view(), name="api-campaign-target"),
    path(
        "campaigns/<str:public_id>/history/",
        campaigns_api.CampaignHistoryApi.as_view(),
        name="api-campaign-history",
    ),
    path("campaigns/<str:public_id>/cancel/", campaigns_api.CampaignCancelApi.as_view(), name="api-campaign-cancel"),
    # The network's rules, simulations, ownership transfers
    path(
        "campaigns/<str:public_id>/simulation/",
        arbitration_api.CampaignSimulationApi.as_view(),
        name="api-campaign-simulation",
    ),
    path("network-rules/<slug:slug>/", arbitration_api.NetworkRulesApi.as_view(), name="api-network-rules"),
    path(
        "network-rules/<slug:slug>/conflicts/",
        conflict_api.NetworkConflictsApi.as_view(),
        name="api-network-conflicts",
    ),
    path(
        "arbitration-simulations/",
        arbitration_api.ArbitrationSimulationApi.as_view(),
        name="api-arbitration-simulations",
    ),
    path(
        "ownership-transfers/",
        arbitration_api.OwnershipTransferListApi.as_view(),
        name="api-ownership-transfer-list",
    ),
    path(
        "ownership-transfers/<str:public_id>/decide/",
        arbitration_api.OwnershipTransferDecideApi.as_view(),
        name="api-ownership-transfer-decide",
    ),
]
