"""Candidate keyed by (run, customer, campaign), without a surrogate id (0011 then partitions it
by run on PostgreSQL). The decisions of earlier runs are not kept (the table is recreated): they
are re-made by the next simulation or run."""

import django.db.models.deletion
from django.db import migrations, models

REASONS = [('objection', 'objected to all marketing'), ('no_consent', 'no consent for this channel'), ('no_address', 'no address for this channel'), ('suppressed', 'address on the suppression list'), ('not_owner', 'customer of another branch'), ('quiet_period', 'send date on a quiet day'), ('already_contacted', 'already contacted for this operation'), ('same_operation', 'another message of the same operation goes first'), ('duplicate_address', 'same address as another customer of the campaign'), ('channel_cap', 'channel pressure cap reached'), ('quota', 'slots reserved for the other origin'), ('pressure_cap', 'pressure cap reached')]

def _fk(to, *, null=False, on_delete=django.db.models.deletion.CASCADE, related_name="+"):
    return models.ForeignKey(db_constraint=False, db_index=False, null=null, on_delete=on_delete,
                             related_name=related_name, to=to)


class Migration(migrations.Migration):

    dependencies = [
        ("central", "0009_candidate_without_fk_constraints"),
        ("local_stores", "0006_regional_managers_approve"),
    ]

    operations = [
        migrations.DeleteModel(name="Candidate"),
        migrations.CreateModel(
            name="Candidate",
            fields=[
                ("pk", models.CompositePrimaryKey("run", "customer", "campaign", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),
                ("run", _fk("central.arbitrationrun", related_name="candidates")),
                ("campaign", _fk("central.campaign")),
                ("customer", _fk("central.customer")),
                ("branch", _fk("local_stores.node", null=True)),
                ("channel", models.CharField(max_length=8)),
                ("origin", models.CharField(max_length=16)),
                ("operation", _fk("central.operation", null=True)),
                ("priority", models.PositiveSmallIntegerField()),
                ("send_date", models.DateField()),
                ("scheduled_at", models.DateTimeField()),
                ("selected", models.BooleanField(null=True)),
                ("reason", models.CharField(blank=True, choices=REASONS, max_length=20)),
                ("lost_to", _fk("central.campaign", null=True, on_delete=django.db.models.deletion.SET_NULL)),
            ],
            options={
                "indexes": [models.Index(fields=["run", "campaign"], name="candidate_run_campaign")],
            },
        ),
    ]
