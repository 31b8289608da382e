"""Rendering benchmark: per-recipient e-mail (merge + MIME), e-mail proof, one-page print PDF.

Run on demand (not part of the test suite):

    .venv/bin/python bench/render_benchmark.py [--recipients 5000] [--runs 30]

It builds the demo network's templates in a throw-away SQLite database (the rendering does not
depend on the database), then prints each figure next to its target (../shared/targets.md) and,
for the per-recipient render, the baseline measured in the same run: compiling the MJML and
inlining the CSS again for every recipient, as a naive renderer would.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(workdir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261122)
    arguments = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    setup_django(workdir)

    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.mail import EmailMultiAlternatives

    from fixtures.demo_templates import load_demo_templates
    from fixtures.generate import NamePool
    from local_stores.models import Node, NodeKind, Role
    from local_stores.services import network_create, node_create, role_grant
    from templates_lib import previews, rendering, rendering_print
    from templates_lib.mime import build_message

    network = network_create(name="Bench", slug="bench", head_office_name="Bench HQ")
    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    region = node_create(parent=head_office, kind=NodeKind.REGION, code="R1", name="Region")
    branch = node_create(parent=region, kind=NodeKind.BRANCH, code="B1", name="Comptoir Bench", address_line1="1 rue du Test",
                         postal_code="75001", city="Paris", phone="01 02 03 04 05", opening_hours="9h-19h",
                         manager_signature="L'équipe")
    author = get_user_model().objects.create(username="bench")
    role_grant(user=author, node=head_office, role=Role.HEAD_OFFICE_MARKETER)
    versions = load_demo_templates(network=network, author=author)
    newsletter, flyer = versions["newsletter"], versions["flyer"]
    defaults = {d.name: d.default for d in rendering.version_slots(newsletter)}
    context = rendering.VariantContext(slot_values=defaults, branch=branch, campaign={"offer_code": "BENCH"})
    system = previews.preview_system_values(newsletter)

    rng = random.Random(arguments.seed)
    names = NamePool(arguments.seed, size=400)
    recipients = [
        {"civility": "Mme", "first_name": rng.choice(names.first_female), "last_name": rng.choice(names.last),
         "full_name": "", "email": f"client{number}@exemple.fr", "city": "Paris"}
        for number in range(arguments.recipients)
    ]

    # 1. E-mail proof: a cold compile of one variant and its render (the cache emptied each run).
    proof_times = []
    for _ in range(arguments.runs):
        cache.clear()
        started = time.perf_counter()
        rendering.render_email(rendering.compile_email(newsletter, context), rendering.SAMPLE_RECIPIENT, system)
        proof_times.append((time.perf_counter() - started) * 1000)

    # 2. Per recipient: merge + MIME message as bytes, the variant compiled once.
    compiled = rendering.compile_email(newsletter, context)
    per_recipient = []
    merge_only = []
    for recipient in recipients:
        started = time.perf_counter()
        email = rendering.render_email(compiled, recipient, {**system, "unsubscribe_url": f"https://x.test/u/{recipient['email']}"})
        merged = time.perf_counter()
        build_message(from_email="Comptoir <noreply@exemple.fr>", to=recipient["email"], subject=email.subject,
                      text=email.text, html=email.html,
                      headers={"List-Unsubscribe": "<https://x.test/u>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        done = time.perf_counter()
        merge_only.append((merged - started) * 1000)
        per_recipient.append((done - started) * 1000)

    # Baseline, same run: compile MJML and inline CSS again for every recipient, and build the
    # MIME message with Django's EmailMultiAlternatives (a naive renderer).
    baseline = []
    for recipient in recipients[: min(300, len(recipients))]:
        started = time.perf_counter()
        cache.clear()
        email = rendering.render_email(rendering.compile_email(newsletter, context), recipient, system)
        message = EmailMultiAlternatives(email.subject, email.text, "noreply@exemple.fr", [recipient["email"]])
        message.attach_alternative(email.html, "text/html")
        message.message().as_bytes()
        baseline.append((time.perf_counter() - started) * 1000)

    # 3. One-page print PDF (A5 flyer with two library images), in the sandboxed child process,
    # and the same rendering in this process, to show what the sandbox costs.
    flyer_defaults = {d.name: d.default for d in rendering.version_slots(flyer)}
    flyer_context = rendering.VariantContext(slot_values=flyer_defaults, branch=branch)
    document, assets = rendering_print.print_html(flyer, flyer_context, rendering.SAMPLE_RECIPIENT, system)
    rendering_print.render_pdf(document, assets)  # warm fonts
    pdf_times, pdf_inline = [], []
    for _ in range(max(5, arguments.runs // 2)):
        started = time.perf_counter()
        rendering_print.render_print(flyer, flyer_context, rendering.SAMPLE_RECIPIENT, system)
        pdf_times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        rendering_print._render_pdf_in_this_process(document, assets)
        pdf_inline.append((time.perf_counter() - started) * 1000)

    median = statistics.median
    harfbuzz = Path("/usr/lib/x86_64-linux-gnu/libharfbuzz-subset.so.0").exists()
    print(f"Relais render benchmark — {arguments.recipients} recipients, {arguments.runs} runs, seed {arguments.seed}")
    print(f"  machine: {os.cpu_count()} cores; libharfbuzz-subset present: {harfbuzz}")
    print(f"  per-recipient e-mail incl. MIME: median {median(per_recipient):.3f} ms, p95 {percentile(per_recipient, .95):.3f} ms"
          f"  (merge alone: median {median(merge_only):.4f} ms)   target ≤ 1 ms median")
    print(f"  baseline (MJML + inlining per recipient, same run): median {median(baseline):.2f} ms"
          f"  → Relais {median(baseline) / median(per_recipient):.0f}× faster")
    print(f"  e-mail proof (cold compile + render): median {median(proof_times):.1f} ms, p95 {percentile(proof_times, .95):.1f} ms"
          "   target ≤ 50 ms")
    print(f"  one-page print PDF (A5, 2 images), sandboxed: median {median(pdf_times):.1f} ms, p95 {percentile(pdf_times, .95):.1f} ms"
          f"   (in-process: median {median(pdf_inline):.1f} ms)   target ≤ 150 ms")


if __name__ == "__main__":
    main()
