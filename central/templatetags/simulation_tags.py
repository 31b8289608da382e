"""The campaign page's simulation panel reads its numbers here, so that the editor's view needs no
change: ``{% campaign_simulation_for campaign as simulation %}``."""

from django import template

from central.rules.selectors import CampaignSimulation, campaign_simulation_summary

register = template.Library()


@register.simple_tag(takes_context=True)
def campaign_simulation_for(context, campaign) -> CampaignSimulation | None:
    """The latest simulation covering ``campaign``, as far as the request's user may count it; None
    for who does not see its customers (and then nothing is shown)."""
    request = context.get("request")
    if request is None or campaign is None:
        return None
    return campaign_simulation_summary(fetched_by=request.user, campaign=campaign)
