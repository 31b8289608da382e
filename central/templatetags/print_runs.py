"""``{% campaign_print_runs campaign %}``: the print runs of a campaign on its page (the files to
download, each hand-off's status, head office's Retry), for the user of the request only."""

from django import template

from central.delivery.printing.selectors import campaign_print_panel

register = template.Library()


@register.inclusion_tag("central/_campaign_print.html", takes_context=True)
def campaign_print_runs(context, campaign):
    request = context.get("request")
    panel = campaign_print_panel(fetched_by=request.user, campaign=campaign) if request is not None else None
    return {"campaign": campaign, "panel": panel, "csrf_token": context.get("csrf_token")}
