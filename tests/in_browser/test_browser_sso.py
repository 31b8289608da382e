"""The single sign-on set-up page on a phone (390 × 844) in a real browser: its login policy (the
two settings) shown and saved, no sideways scrolling, no serious accessibility violation."""

from playwright.sync_api import expect

from local_stores.models import SsoConfig
from tests.browser import log_in, no_sideways_scroll


def test_the_sso_page_works_at_390_px(transactional_world, phone, live_server):
    log_in(phone, "head_office", then="/network/sso/")
    no_sideways_scroll(phone)
    allowed = phone.get_by_label("People may also log in with a password")
    trusted = phone.get_by_label("Trust the provider's second factor")
    expect(allowed).to_be_checked()
    expect(trusted).not_to_be_checked()
    phone.get_by_label("Issuer URL").fill("https://login.alpha.test/v2.0")
    phone.get_by_label("Client ID").fill("relais")
    phone.get_by_label("Client secret").fill("secret-1234")
    phone.get_by_label("E-mail domains").fill("alpha.test")
    allowed.uncheck()
    trusted.check()
    phone.get_by_role("button", name="Save single sign-on").click()
    expect(phone.get_by_text("Single sign-on was saved.")).to_be_visible()
    no_sideways_scroll(phone)
    config = SsoConfig.objects.get(network=transactional_world.networks["alpha"])
    assert (config.password_login_allowed, config.trust_provider_mfa) == (False, True)
    expect(phone.get_by_label("People may also log in with a password")).not_to_be_checked()
