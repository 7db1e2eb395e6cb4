"""API tokens in a real browser: a new token is shown once, reloading the page afterwards shows
the list rather than making a second token, and revoking one asks first."""

import pytest

from incidents.models import ApiToken

pytestmark = pytest.mark.browser


def test_a_token_is_shown_once_and_a_reload_makes_no_other(page, expect, log_in, e2e_db, screenshot):
    responder = log_in(page)
    page.goto(f"{e2e_db}/account/api-tokens/")
    page.get_by_label("Name").fill("alertmanager")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token")
    expect(token).to_be_visible()
    assert token.inner_text().startswith(ApiToken.objects.get(user=responder).prefix)
    screenshot(page, "created")
    assert "{#" not in page.locator("main").inner_text()  # a template comment is not shown

    page.reload()
    expect(page.get_by_role("cell", name="alertmanager")).to_be_visible()
    expect(page.locator("#new-token")).to_have_count(0)
    assert ApiToken.objects.filter(user=responder).count() == 1

    # Revoking asks first: dismissed, the token stays; accepted, it goes.
    revoke = page.get_by_role("button", name="Revoke")
    page.once("dialog", lambda dialog: dialog.dismiss())
    revoke.click()
    expect(page.get_by_role("cell", name="alertmanager")).to_be_visible()
    assert ApiToken.objects.filter(user=responder).exists()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    revoke.click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    assert questions == ["Revoke the token 'alertmanager'? Scripts using it are refused from now on."]
    assert not ApiToken.objects.filter(user=responder).exists()
    expect(page.locator("#page-messages")).to_have_text("Token 'alertmanager' revoked.")
    screenshot(page, "revoked")
