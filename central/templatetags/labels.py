"""Labels in place of stored codes, in templates: ``{{ customer.segment|segment_label }}``,
``{{ campaign_channels|channel_labels }}``."""

from django import template

from central.customers import labels

register = template.Library()

register.filter("segment_label", labels.segment_label)
register.filter("channel_labels", labels.channel_labels)
