"""The keyboard: a skip link first, `?` opens the shortcuts and Esc closes them, `/` goes to the
search."""

import re

import pytest

pytestmark = pytest.mark.browser


def test_skip_link_help_and_search_from_the_keyboard(page, expect, log_in, e2e_db):
    log_in(page)

    # The first Tab lands on the skip link, which leads past the header to the page itself.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Declare an incident")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    # No search on the dashboard: `/` goes to the runbook search, ready to type.
    page.keyboard.press("/")
    page.wait_for_url(f"{e2e_db}/runbooks/")
    search = page.get_by_role("searchbox", name="Search runbooks")
    expect(search).to_be_focused()
    page.locator("h1").click()
    expect(search).not_to_be_focused()
    page.keyboard.press("/")
    expect(search).to_be_focused()
    expect(search).to_have_value(re.compile("^$"))  # the slash was not typed into it
