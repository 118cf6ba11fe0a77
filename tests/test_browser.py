"""End to end in a real headless Chromium: the catalogue, a query's form, its table and its map.

Runs against ``amity serve`` (the ``live_server`` fixture), so the page, the
form submission and the answer go through gunicorn and the query workers as
they do for a researcher. Needs Debian's ``chromium`` and ``chromium-driver``
(``make system-deps``); skipped with the reason when they are missing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("/usr/bin/chromedriver") or shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="the browser test needs Debian's chromium and chromium-driver: run `make system-deps`",
)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="amity-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_researcher_runs_a_saved_query_from_the_catalogue(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(live_server.url + "queries")
    assert "Saved queries" in browser.title
    browser.find_element(By.CSS_SELECTOR, 'a.saved-query[href="/queries/twins-of-city"]').click()
    wait.until(ready.presence_of_element_located((By.ID, "params")))
    assert "Twins of a city" in browser.find_element(By.TAG_NAME, "h1").text

    city = browser.find_element(By.ID, "param-city")
    city.clear()
    city.send_keys("Saint Petersburg")
    Select(browser.find_element(By.ID, "param-status")).select_by_visible_text("formal")
    browser.find_element(By.ID, "run").click()

    wait.until(lambda driver: "city=Saint+Petersburg" in driver.current_url)
    table = wait.until(ready.presence_of_element_located((By.ID, "results")))
    cells = [cell.text for cell in table.find_elements(By.CSS_SELECTOR, "tbody td")]
    assert "Qingdao" in cells and "formal" in cells and "intent" not in cells
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 90  # ~96 twins, one page of 100 rows
    figure = browser.find_element(By.CSS_SELECTOR, "svg.map")
    assert figure.is_displayed() and len(figure.find_elements(By.TAG_NAME, "circle")) >= 50
    assert Select(browser.find_element(By.ID, "param-status")).first_selected_option.text == "formal"


def test_a_chart_and_a_refused_parameter_show_in_the_page(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "queries/network-members-by-country?network=c40")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")) >= 10
    browser.get(live_server.url + "queries/twins-of-city?city=Springfield")
    assert "names" in browser.find_element(By.ID, "problem").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "ul.candidates li")) > 1
