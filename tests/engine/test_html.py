"""The HTML viewer: markup and JSON checked with `html.parser`, then the page driven in a real headless Chromium."""

import base64
import hashlib
import json
import math
import os
import shutil
from html.parser import HTMLParser

import pytest

from transformers_recap import HierarchicalCaptions, TimedCaption
from transformers_recap.engine.html import CaptionsHtmlError, render_html, video_source


SCRIPT_ATTACK = "<script>window.pwned=1</script>"
IMAGE_ATTACK = '<img src=x onerror="window.pwned=2">'
HOSTILE_TEXTS = [
    SCRIPT_ATTACK,
    IMAGE_ATTACK,
    "</script><script>window.pwned=3</script>",
    "<!-- <script>window.pwned=4</script>",
    "line\u2028separator\u2029and & ampersand ' \" quotes",
    "#C C coupe l'oignon — 切る 🔪",
]


class PageParser(HTMLParser):
    """Every start tag with its attributes, the text of each element kind and the contents of each script."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in ("meta", "link", "input", "br", "img"):
            self._open.append((tag, attributes))
            if tag == "script":
                self.scripts.append((attributes, ""))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self._open:
            return
        tag = self._open[-1][0]
        if tag == "script":
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)
        elif tag == "style":
            self.styles.append(data)
        else:
            key = f"{tag}#{self._open[-1][1].get('id')}" if self._open[-1][1].get("id") else tag
            self.texts.setdefault(key, []).append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def hostile_captions() -> HierarchicalCaptions:
    clips = [TimedCaption(float(2 * i), float(2 * i + 2), text) for i, text in enumerate(HOSTILE_TEXTS)]
    segments = [TimedCaption(0.0, 6.0, IMAGE_ATTACK), TimedCaption(6.0, 12.0, "</SCRIPT >second")]
    return HierarchicalCaptions(clips=clips, segments=segments, summary=SCRIPT_ATTACK + " summary", duration=12.0)


def json_block(parser: PageParser) -> dict:
    blocks = [text for attributes, text in parser.scripts if attributes.get("type") == "application/json"]
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_json_block_round_trips_hostile_captions():
    captions = hostile_captions()
    page = render_html(captions, "/videos/a.mp4")
    parser = parse(page)
    data = json_block(parser)
    assert HierarchicalCaptions.from_dict(data["captions"]) == captions
    assert data["video"] == "a.mp4"
    # Exactly the page's two scripts: the hostile texts opened none, and none of their markup became a tag.
    assert [attributes.get("type") for attributes, _ in parser.scripts] == ["application/json", None]
    assert "img" not in [tag for tag, _ in parser.tags]
    for attack in ("<script>", "</script><script>", "<!--", "<img", "\u2028", "\u2029"):
        assert attack not in page.split('<script type="application/json"', 1)[1].split("</script>", 1)[0]


def test_title_and_file_name_are_escaped(tmp_path):
    name = 'clip "<b>" <img src=x onerror=alert(1)> #1?.mp4'
    video = tmp_path / "videos" / name
    output = tmp_path / "pages" / "view.html"
    title = "</title><script>window.pwned=5</script>"
    parser = parse(render_html(hostile_captions(), video, title, output_path=output))
    assert "".join(parser.texts["title"]) == title
    assert "".join(parser.texts["h1#title"]) == title
    # The file name is shown as text next to the title, and the video's URL is relative and percent-encoded.
    assert "".join(parser.texts["span"]) == name
    videos = [attributes for tag, attributes in parser.tags if tag == "video"]
    expected_src = "../videos/clip%20%22%3Cb%3E%22%20%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%20%231%3F.mp4"
    assert [attributes["src"] for attributes in videos] == [expected_src]
    assert "".join(parser.texts["code"]) == expected_src
    assert [tag for tag, _ in parser.tags].count("script") == 2
    assert "img" not in [tag for tag, _ in parser.tags]
    assert json_block(parser)["video"] == name


def test_default_title_and_page_without_video():
    parser = parse(render_html(hostile_captions()))
    assert "".join(parser.texts["title"]) == "Video captions"
    assert "video" not in [tag for tag, _ in parser.tags]
    assert "No video attached" in "".join(parser.texts["p#no-video"])
    assert json_block(parser)["video"] is None
    named = parse(render_html(hostile_captions(), "clips/cooking.mp4"))
    assert "".join(named.texts["title"]) == "cooking.mp4"


def test_no_external_resources_and_policy_allows_only_the_inline_code():
    parser = parse(render_html(hostile_captions(), "/videos/a b.mp4"))
    for tag, attributes in parser.tags:
        for key in ("src", "href"):
            if key in attributes:
                assert (tag, attributes[key]) in {("video", "file:///videos/a%20b.mp4"), ("link", "data:,")}
    policy = next(attributes["content"] for tag, attributes in parser.tags if attributes.get("http-equiv"))
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"

    inline_script = next(text for attributes, text in parser.scripts if "type" not in attributes)
    assert directives["script-src"] == digest(inline_script)
    assert directives["style-src"] == digest("".join(parser.styles))
    # The JavaScript builds the page with textContent only.
    assert "innerHTML" not in inline_script and "insertAdjacentHTML" not in inline_script


@pytest.mark.parametrize(
    ("video", "output", "expected"),
    [
        ("/data/v.mp4", "/data/v.html", "v.mp4"),
        ("/data/videos/a b#1%.mp4", "/data/pages/index.html", "../videos/a%20b%231%25.mp4"),
        ("/data/vidéo:1.mp4", "/data/sub/deeper/x.html", "../../vid%C3%A9o%3A1.mp4"),
        ("/data/a b/v?.mp4", None, "file:///data/a%20b/v%3F.mp4"),
        ("https://example.org/v.mp4", "/data/x.html", "https://example.org/v.mp4"),
    ],
)
def test_video_source(video, output, expected):
    assert video_source(video, output) == expected


def test_clips_grouped_under_their_segments():
    captions = HierarchicalCaptions(
        clips=[
            TimedCaption(20.0, 24.0, "c"),
            TimedCaption(1.0, 4.0, "before"),
            TimedCaption(10.0, 14.0, "a"),
            TimedCaption(16.0, 20.0, "b"),
            TimedCaption(30.0, 34.0, "d"),
        ],
        segments=[TimedCaption(20.0, 40.0, "second"), TimedCaption(10.0, 20.0, "first"), TimedCaption(40.0, 50.0, "")],
    )
    groups = json_block(parse(render_html(captions)))["groups"]
    assert groups == [
        {"segment": None, "clips": [1]},
        {"segment": 1, "clips": [2, 3]},
        {"segment": 0, "clips": [0, 4]},
        {"segment": 2, "clips": []},
    ]
    only_clips = HierarchicalCaptions(clips=captions.clips)
    assert json_block(parse(render_html(only_clips)))["groups"] == [{"segment": None, "clips": [1, 2, 3, 0, 4]}]


@pytest.mark.parametrize(
    ("captions", "message"),
    [
        (HierarchicalCaptions(clips=[TimedCaption(0.0, 4.0, "a"), TimedCaption(math.nan, 8.0, "b")]), "clip 1: start"),
        (HierarchicalCaptions(segments=[TimedCaption(0.0, math.inf, "a")]), "segment 0: end is inf"),
        (HierarchicalCaptions(duration=math.nan), "duration is nan"),
    ],
)
def test_non_finite_times_are_refused(captions, message):
    with pytest.raises(CaptionsHtmlError, match=message):
        render_html(captions)


# ---------------------------------------------------------------------------------------------------------------------
# In a real browser: Debian's chromium and chromedriver, driven by Selenium without selenium-manager.
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", chromedriver)) if path is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = (
            f"the headless-browser test needs {', '.join(missing)} "
            "(apt-get install chromium chromium-driver; pip install selenium)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run it")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_script_timeout(10)
    yield driver
    driver.quit()


def wait_for(driver, script: str, *args):
    """Polls `script` (a JavaScript expression returning a truthy value when done) for up to 10 s; returns its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 10, poll_frequency=0.05).until(lambda d: d.execute_script(f"return {script}", *args))


def current_texts(driver) -> tuple[str, ...]:
    """The highlighted clip caption and the highlighted segment number on the timeline."""
    texts = driver.execute_script(
        "const clip = document.querySelector('#captions .clip.current .x');"
        "const seg = document.querySelector('#track .seg.current');"
        "return [clip ? clip.textContent : '', seg ? seg.textContent : ''];"
    )
    return tuple(texts)


def browser_captions() -> HierarchicalCaptions:
    texts = ["#C C opens the door.", SCRIPT_ATTACK, "#C C walks in.", "#C C sits down.", "#C C reads.", "#C C sleeps."]
    return HierarchicalCaptions(
        clips=[TimedCaption(2.0 * i, 2.0 * i + 2.0, text) for i, text in enumerate(texts)],
        segments=[
            TimedCaption(0.0, 4.0, "C enters the room."),
            TimedCaption(4.0, 8.0, IMAGE_ATTACK),
            TimedCaption(8.0, 12.0, "C rests."),
        ],
        summary="C comes home and rests.",
        duration=12.0,
    )


def test_page_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.video_fixtures import write_video

    folder = tmp_path / 'odd "<dir>" #1'
    folder.mkdir()
    video = folder / "clip <b> & 'x'.mp4"
    write_video(video, num_frames=60, fps=5)
    page = folder / "captions.html"
    page.write_text(render_html(browser_captions(), video, output_path=page), encoding="utf-8")
    browser.get(page.as_uri())
    wait_for(browser, "document.body.dataset.ready === 'true'")

    # It renders: title, summary, the three segments on the timeline and in the list, the six clip captions.
    assert browser.find_element(By.ID, "title").text == "clip <b> & 'x'.mp4"
    assert browser.find_element(By.ID, "summary").text == "C comes home and rests."
    timeline = browser.find_elements(By.CSS_SELECTOR, "#track .seg")
    assert [button.text for button in timeline] == ["1", "2", "3"] and all(b.is_displayed() for b in timeline)
    widths = [button.rect["width"] for button in timeline]
    assert max(widths) - min(widths) < 2 and widths[0] > 100
    heads = browser.find_elements(By.CSS_SELECTOR, "#captions .seg-text")
    assert [head.text for head in heads] == ["C enters the room.", IMAGE_ATTACK, "C rests."]
    clips = browser.find_elements(By.CSS_SELECTOR, "#captions .clip .x")
    assert [clip.text for clip in clips] == [caption.text for caption in browser_captions().clips]
    # The hostile captions are text: no script ran, no image element was made.
    assert browser.execute_script("return window.pwned") is None
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('script').length") == 2
    # The video loads through the relative, percent-encoded URL.
    assert wait_for(browser, "document.getElementById('player').readyState >= 1")
    assert abs(browser.execute_script("return document.getElementById('player').duration") - 12.0) < 0.5
    assert not browser.find_element(By.ID, "video-error").is_displayed()

    def position() -> float:
        return browser.execute_script("return document.getElementById('player').currentTime")

    timeline[2].click()
    assert abs(position() - 8.0) < 0.05
    assert current_texts(browser) == ("#C C reads.", "3")
    clips[1].click()
    assert abs(position() - 2.0) < 0.05
    assert current_texts(browser) == (SCRIPT_ATTACK, "1")
    # Keyboard: Enter on a focused segment heading seeks too.
    browser.find_elements(By.CSS_SELECTOR, "#captions .seg-head")[1].send_keys(Keys.ENTER)
    assert abs(position() - 4.0) < 0.05
    assert current_texts(browser) == ("#C C walks in.", "2")
    # The highlight follows the video's time when it changes (as when playing or seeking with the player's controls).
    browser.execute_script("document.getElementById('player').currentTime = 11.5")
    wait_for(
        browser, "document.querySelector('#captions .clip.current .x').textContent === arguments[0]", "#C C sleeps."
    )
    assert current_texts(browser) == ("#C C sleeps.", "3")
    assert browser.find_element(By.ID, "now-clip").text == "#C C sleeps."
    assert browser.find_elements(By.CSS_SELECTOR, "#captions .group")[2].get_attribute("aria-current") == "time"
    assert browser.execute_script("return window.pwned") is None


def test_page_without_video_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "captions only.html"
    page.write_text(render_html(browser_captions()), encoding="utf-8")
    browser.get(page.as_uri())
    wait_for(browser, "document.body.dataset.ready === 'true'")
    assert browser.execute_script("return document.querySelectorAll('video').length") == 0
    assert browser.find_element(By.ID, "no-video").is_displayed()
    assert browser.find_element(By.ID, "summary").text == "C comes home and rests."
    assert len([b for b in browser.find_elements(By.CSS_SELECTOR, "#track .seg") if b.is_displayed()]) == 3
    browser.find_elements(By.CSS_SELECTOR, "#captions .clip")[4].click()
    assert current_texts(browser) == ("#C C reads.", "3")
    assert browser.find_element(By.ID, "now-clip").text == "#C C reads."
    # Searching keeps the matching captions only.
    browser.find_element(By.ID, "search").send_keys("sits")
    visible = [
        clip.text for clip in browser.find_elements(By.CSS_SELECTOR, "#captions .clip .x") if clip.is_displayed()
    ]
    assert visible == ["#C C sits down."]
    assert browser.execute_script("return window.pwned") is None


def test_page_with_missing_video_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "captions.html"
    page.write_text(render_html(browser_captions(), tmp_path / "moved away.mp4", output_path=page), encoding="utf-8")
    browser.get(page.as_uri())
    wait_for(browser, "document.body.dataset.ready === 'true'")
    wait_for(browser, "!document.getElementById('video-error').hidden")
    assert browser.find_element(By.CSS_SELECTOR, "#video-error code").text == "moved%20away.mp4"
    assert not browser.find_element(By.ID, "player").is_displayed()
    browser.find_elements(By.CSS_SELECTOR, "#track .seg")[1].click()
    assert current_texts(browser) == ("#C C walks in.", "2")


def test_undecodable_file_name_still_renders(tmp_path):
    # On POSIX, a file name with invalid UTF-8 bytes reaches Python as lone surrogates (surrogateescape).
    name = os.fsdecode(b"caf\xe9.mp4")
    page = tmp_path / "page.html"
    page.write_text(render_html(hostile_captions(), tmp_path / name, output_path=page), encoding="utf-8")
    parser = parse(page.read_text(encoding="utf-8"))
    assert "".join(parser.texts["title"]) == "caf\ufffd.mp4"
    assert [attributes["src"] for tag, attributes in parser.tags if tag == "video"] == ["caf%E9.mp4"]
    assert HierarchicalCaptions.from_dict(json_block(parser)["captions"]) == hostile_captions()
