"""The fast MIME builder produces messages the standard library reads back exactly."""

from email import message_from_bytes, policy

from templates_lib.mime import build_message


def test_message_parses_back_with_both_bodies_and_headers():
    html = "<p>Bonjour Zoé, voici l’offre à 12,90 €</p>" * 200
    text = "Bonjour Zoé\n" * 50
    raw = build_message(
        from_email="Comptoir Café <noreply@exemple.fr>", to="zoe@exemple.fr", subject="Zoé, la foire aux vins ☕",
        text=text, html=html,
        headers={"List-Unsubscribe": "<https://x.test/u/abc>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    assert b"\r\n" in raw and all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Zoé, la foire aux vins ☕"
    assert message["From"].addresses[0].display_name == "Comptoir Café"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content() == text
    assert message.get_body(("html",)).get_content() == html


def test_header_injection_is_neutralised():
    raw = build_message(from_email="a@exemple.fr", to="b@exemple.fr", subject="Hi\r\nBcc: victim@exemple.fr",
                        text="t", html="<p>h</p>")
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None
    assert "Bcc: victim" in message["Subject"]
