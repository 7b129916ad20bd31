# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
A self-contained HTML viewer of [`HierarchicalCaptions`]: the video player, the summary, the segments as a timeline
and the clip captions under each segment, in one file that loads nothing from the network.

The page is hand-written here (no library renders a caption viewer): the captions travel as JSON in a
`<script type="application/json">` block (with `<`, `>`, `&`, U+2028 and U+2029 escaped, so no caption can close the
block) and the inline script builds the page from it with `textContent` only, never `innerHTML`. Everything the
Python side writes into markup (title, video file name and URL) goes through `html.escape`. A Content-Security-Policy
allows only the page's own inline script and style (by hash), so even markup that slipped through could run nothing
and fetch nothing but the video.

In the browser: clicking a segment (on the timeline or in the list) or a clip caption seeks the video there; while it
plays, the current segment and clip caption are highlighted and the list follows them. Without a video the page shows
the same summary, timeline and captions, and clicking selects a moment instead of seeking.
"""

import base64
import bisect
import hashlib
import html
import json
import math
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any


__all__ = ["CaptionsHtmlError", "render_html", "video_source"]

_TIME_EPSILON = 1e-6
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class CaptionsHtmlError(ValueError):
    """Captions that cannot be shown on a timeline (a start, end or duration that is not a finite number)."""


def video_source(video_path: str | os.PathLike, output_path: str | os.PathLike | None = None) -> str:
    """
    The URL the page's `<video src>` should use for `video_path`.

    Args:
        video_path (`str` or `os.PathLike`): the video file. A string that already is a URL (`scheme://...`) is
            returned unchanged.
        output_path (`str` or `os.PathLike`, *optional*): where the HTML file will be written. When given, the URL is
            relative to that file's folder (`"video.mp4"` next to it, `"../videos/a%20b.mp4"` elsewhere), so the page
            and the video can be moved or served together; otherwise (or when no relative path exists, as across
            Windows drives) it is the absolute `file://` URL of the video, which works only on this machine.

    Returns:
        `str`: a percent-encoded URL (spaces, `#`, `?`, `%` and non-ASCII characters are encoded).
    """
    text = os.fsdecode(video_path)
    if _URL_SCHEME.match(text):
        return text
    absolute = os.path.abspath(text)
    if output_path is not None:
        try:
            relative = os.path.relpath(absolute, os.path.dirname(os.path.abspath(os.fspath(output_path))))
        except ValueError:
            relative = None
        if relative is not None:
            return urllib.parse.quote(os.fsencode(relative.replace(os.sep, "/")))
    return Path(absolute).as_uri()


def render_html(
    captions: Any,
    video_path: str | os.PathLike | None = None,
    title: str | None = None,
    *,
    output_path: str | os.PathLike | None = None,
    video_src: str | None = None,
) -> str:
    r"""
    One self-contained HTML page showing `captions` beside their video.

    Args:
        captions ([`HierarchicalCaptions`]): clip captions, segment descriptions and summary (any of them may be
            missing; clips are listed under the latest segment starting at or before them).
        video_path (`str` or `os.PathLike`, *optional*): the video the captions describe. Without it (and without
            `video_src`) the page shows the captions alone.
        title (`str`, *optional*): page title; defaults to the video's file name, else `"Video captions"`.
        output_path (`str` or `os.PathLike`, *optional*): where the page will be written, to reference the video by
            a URL relative to it (see [`video_source`]).
        video_src (`str`, *optional*): the exact URL for `<video src>`, computed by the caller (e.g. when the page
            is served from a web server: `"/media/cooking.mp4"`); overrides the URL computed from `video_path`. It is
            written as given (HTML-escaped), so it must already be percent-encoded.

    Returns:
        `str`: the HTML document (UTF-8 text; write it with `encoding="utf-8"`).

    Raises:
        [`CaptionsHtmlError`]: a caption's start or end, or the duration, is not a finite number.
    """
    data = captions.to_dict()
    _check_times(data)
    if video_src is None and video_path is not None:
        video_src = video_source(video_path, output_path)
    video_name = _file_name(video_path, video_src)
    if title is None:
        title = video_name or "Video captions"

    payload = {"captions": data, "groups": _groups(captions), "video": video_name}
    escaped_title = html.escape(title)
    if video_src is not None:
        escaped_src = html.escape(video_src, quote=True)
        stage = (
            f'<video id="player" controls preload="metadata" playsinline src="{escaped_src}">'
            "Your browser cannot play this video.</video>\n"
            f'<p class="note video-error" id="video-error" hidden>The video could not be loaded from '
            f"<code>{html.escape(video_src)}</code>; the captions still work without it.</p>\n"
        )
    else:
        stage = (
            '<p class="note" id="no-video">No video attached: the captions are shown on their own. '
            "Click a segment or a caption to select its moment.</p>\n"
        )
    subtitle = f'<span class="file">{html.escape(video_name)}</span>' if video_name and video_name != title else ""
    policy = (
        "default-src 'none'; "
        f"script-src {_source_hash(_SCRIPT)}; style-src {_source_hash(_STYLE)}; "
        "media-src * file: data: blob:; img-src data:"
    )
    page = _PAGE.format(
        policy=html.escape(policy, quote=True),
        title=escaped_title,
        subtitle=subtitle,
        style=_STYLE,
        stage=stage,
        data=_script_json(payload),
        script=_SCRIPT,
    )
    # Lone surrogates (undecodable file names) cannot be written as UTF-8: show them as U+FFFD instead of failing.
    return page.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _check_times(data: dict[str, Any]) -> None:
    duration = data.get("duration")
    if duration is not None and not _finite(duration):
        raise CaptionsHtmlError(f"duration is {duration!r}, not a finite number of seconds")
    for level in ("clips", "segments"):
        for index, caption in enumerate(data[level]):
            for key in ("start", "end"):
                if not _finite(caption[key]):
                    raise CaptionsHtmlError(
                        f"{level[:-1]} {index}: {key} is {caption[key]!r}, not a finite number of seconds"
                    )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _file_name(video_path: str | os.PathLike | None, video_src: str | None) -> str | None:
    """The video's file name for display: from the path, else the last part of the URL (percent-decoded)."""
    if video_path is not None:
        text = os.fsdecode(video_path)
        if not _URL_SCHEME.match(text):
            return _readable(os.path.basename(text) or text)
        video_src = text
    if video_src is None:
        return None
    path = urllib.parse.urlsplit(video_src).path
    return urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1]) or video_src


def _readable(text: str) -> str:
    """A file name as text: bytes that were not UTF-8 (kept by Python as surrogate escapes) shown as U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text


def _groups(captions: Any) -> list[dict[str, Any]]:
    """
    The list of the page: `[{"segment": index or None, "clips": [clip indices]}]`, segments in time order, each with
    the clips starting in it (the latest segment starting at or before the clip), clips before any segment first.
    """
    segment_order = sorted(range(len(captions.segments)), key=lambda index: (captions.segments[index].start, index))
    starts = [captions.segments[index].start for index in segment_order]
    members: dict[int | None, list[int]] = {}
    for index in sorted(range(len(captions.clips)), key=lambda index: (captions.clips[index].start, index)):
        position = bisect.bisect_right(starts, captions.clips[index].start + _TIME_EPSILON) - 1
        members.setdefault(segment_order[position] if position >= 0 else None, []).append(index)
    groups = [{"segment": None, "clips": members[None]}] if None in members else []
    groups += [{"segment": index, "clips": members.get(index, [])} for index in segment_order]
    return groups


def _script_json(data: Any) -> str:
    """JSON that can sit inside `<script type="application/json">`: no `</script>`, `<!--` or line separators."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for character, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(character, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _source_hash(source: str) -> str:
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="transformers-recap">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>{style}</style>
</head>
<body>
<header class="top">
<h1 id="title">{title}</h1>{subtitle}
<span class="meta" id="meta"></span>
</header>
<div class="timeline" id="timeline" hidden>
<div class="bar" id="bar"><div class="track" id="track" role="group" aria-label="Segments"></div>\
<div class="playhead" id="playhead"></div></div>
<div class="ticks" id="ticks" aria-hidden="true"></div>
</div>
<main class="layout">
<div class="stage">
{stage}<div class="panel now" id="now" hidden>
<div class="now-head"><span class="now-time" id="now-time"></span><span class="now-label" id="now-label"></span></div>
<p class="now-clip" id="now-clip"></p>
<p class="now-seg" id="now-seg"></p>
</div>
<section class="panel summary" id="summary-section" hidden>
<h2>Summary</h2>
<p id="summary"></p>
</section>
</div>
<div class="browse">
<div class="tools">
<input type="search" id="search" placeholder="Search captions (press /)" aria-label="Search captions">
<span class="count" id="count" aria-live="polite"></span>
<label class="follow"><input type="checkbox" id="follow" checked> Follow playback</label>
</div>
<div class="panel captions" id="captions" tabindex="-1"></div>
</div>
</main>
<noscript><p class="note">This viewer needs JavaScript to show the captions; they are in the JSON block of this \
file.</p></noscript>
<script type="application/json" id="recap-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
:root {
  color-scheme: light dark;
  --bg: #f3f4f7; --panel: #ffffff; --text: #1c2230; --muted: #5d6677; --line: #dfe3ea; --hover: #eef1f6;
  --accent: #2458d6; --accent-text: #ffffff; --seg-a: #d9e3fb; --seg-b: #c2d2f7; --seg-current: #d9e3fb;
  --highlight: #fff2bf; --highlight-edge: #d99a00; --playhead: #e0204f;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171d; --panel: #1d2129; --text: #e3e7ee; --muted: #9aa3b2; --line: #2e3440; --hover: #262b35;
    --accent: #6d98ff; --accent-text: #0d1117; --seg-a: #2a3550; --seg-b: #34426a; --seg-current: #26314b;
    --highlight: #4a3f12; --highlight-edge: #e3b341; --playhead: #ff5c85;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; height: 100%; }
body {
  display: flex; flex-direction: column; background: var(--bg); color: var(--text);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
button { font: inherit; color: inherit; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
.top {
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 16px; padding: 12px 20px;
  background: var(--panel); border-bottom: 1px solid var(--line);
}
.top h1 { margin: 0; font-size: 19px; font-weight: 650; overflow-wrap: anywhere; }
.top .file, .top .meta { color: var(--muted); font-size: 14px; overflow-wrap: anywhere; }
.timeline { padding: 10px 20px 2px; background: var(--panel); border-bottom: 1px solid var(--line); }
.bar { position: relative; }
.track { position: relative; height: 34px; border-radius: 6px; overflow: hidden; background: var(--line); cursor: pointer; }
.track .seg {
  position: absolute; top: 0; bottom: 0; margin: 0; padding: 0 5px; border: 0; border-right: 1px solid var(--panel);
  background: var(--seg-a); font-size: 12px; text-align: left; white-space: nowrap; overflow: hidden; cursor: pointer;
}
.track .seg:nth-child(even) { background: var(--seg-b); }
.track .seg:hover { filter: brightness(0.95); }
.track .seg.current { background: var(--accent); color: var(--accent-text); font-weight: 600; }
.playhead {
  position: absolute; top: -4px; bottom: -4px; left: 0; width: 3px; margin-left: -1px; border-radius: 2px;
  background: var(--playhead); pointer-events: none;
}
.ticks { position: relative; height: 18px; color: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.ticks span { position: absolute; top: 2px; transform: translateX(-50%); white-space: nowrap; }
.ticks span:first-child { transform: none; }
.layout {
  flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(320px, 46%) minmax(0, 1fr); gap: 16px;
  padding: 16px 20px;
}
.stage { min-height: 0; overflow: auto; display: flex; flex-direction: column; gap: 12px; }
.stage video { display: block; width: 100%; max-height: 56vh; background: #000; border-radius: 8px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
.note { margin: 0; padding: 10px 12px; border: 1px dashed var(--line); border-radius: 8px; color: var(--muted); }
.note code { overflow-wrap: anywhere; }
.video-error { border-color: var(--playhead); }
.now { padding: 10px 14px; }
.now-head { display: flex; gap: 10px; align-items: baseline; color: var(--muted); font-size: 13px; }
.now-time { font-variant-numeric: tabular-nums; font-weight: 600; color: var(--text); }
.now-clip { margin: 4px 0 0; font-size: 17px; font-weight: 550; min-height: 1.45em; overflow-wrap: anywhere; }
.now-seg { margin: 6px 0 0; color: var(--muted); font-size: 14px; overflow-wrap: anywhere; }
.summary { padding: 10px 14px; }
.summary h2, .group-title {
  margin: 0 0 4px; font-size: 12px; font-weight: 650; letter-spacing: 0.06em; text-transform: uppercase;
  color: var(--muted);
}
.summary p { margin: 0; white-space: pre-line; overflow-wrap: anywhere; }
.browse { min-height: 0; display: flex; flex-direction: column; gap: 10px; }
.tools { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; }
.tools input[type=search] {
  flex: 1; min-width: 180px; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--panel); color: var(--text); font: inherit;
}
.count { color: var(--muted); font-size: 13px; }
.follow { color: var(--muted); font-size: 13px; user-select: none; }
.captions { flex: 1; min-height: 0; overflow: auto; }
.empty { padding: 16px; color: var(--muted); }
.group { border-bottom: 1px solid var(--line); }
.group:last-child { border-bottom: 0; }
.group-title { padding: 12px 14px 4px; }
.seg-head {
  display: block; width: 100%; margin: 0; padding: 10px 14px 8px; border: 0; background: transparent;
  text-align: left; cursor: pointer;
}
.seg-head:hover { background: var(--hover); }
.group.current > .seg-head { background: var(--seg-current); box-shadow: inset 4px 0 var(--accent); }
.seg-label { display: flex; gap: 10px; align-items: baseline; font-size: 13px; color: var(--muted); }
.seg-num { font-weight: 650; color: var(--accent); }
.seg-time { font-variant-numeric: tabular-nums; }
.seg-text { display: block; margin-top: 2px; font-weight: 550; overflow-wrap: anywhere; }
.clips { list-style: none; margin: 0; padding: 0 8px 10px; }
.clip {
  display: grid; grid-template-columns: 4.2em minmax(0, 1fr); gap: 10px; width: 100%; margin: 0; padding: 3px 8px;
  border: 0; border-radius: 5px; background: transparent; text-align: left; cursor: pointer;
}
.clip:hover { background: var(--hover); }
.clip.current { background: var(--highlight); box-shadow: inset 3px 0 var(--highlight-edge); }
.clip .t { color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; padding-top: 1px; }
.clip .x { overflow-wrap: anywhere; }
.blank { color: var(--muted); font-style: italic; }
@media (max-width: 860px) {
  html, body { height: auto; }
  body { display: block; }
  .layout { display: block; padding: 12px; }
  .stage { overflow: visible; margin-bottom: 12px; }
  .captions { max-height: 75vh; }
}
"""

_SCRIPT = r"""
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("recap-data").textContent);
  const captions = data.captions;
  const clips = captions.clips || [];
  const segments = captions.segments || [];
  const video = document.getElementById("player");
  const byId = (id) => document.getElementById(id);
  const make = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const box = byId("captions"), track = byId("track"), bar = byId("bar"), playhead = byId("playhead");
  const follow = byId("follow"), search = byId("search");

  let total = captions.duration || Math.max(0, ...clips.map((c) => c.end), ...segments.map((s) => s.end));
  const clock = (seconds) => {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = String(s % 60).padStart(2, "0");
    return h || total >= 3600 ? `${h}:${String(m).padStart(2, "0")}:${x}` : `${m}:${x}`;
  };
  const percent = (seconds) => `${total > 0 ? (100 * Math.min(Math.max(seconds, 0), total)) / total : 0}%`;
  const describe = () => {
    const parts = [];
    if (total > 0) parts.push(clock(total));
    if (segments.length) parts.push(`${segments.length} segment${segments.length === 1 ? "" : "s"}`);
    if (clips.length) parts.push(`${clips.length} clip caption${clips.length === 1 ? "" : "s"}`);
    byId("meta").textContent = parts.join(" · ");
  };

  if (captions.summary) {
    byId("summary").textContent = captions.summary;
    byId("summary-section").hidden = false;
  }

  // Timeline: one button per segment, placed and sized by its times.
  const segmentButtons = segments.map((segment, index) => {
    const button = make("button", "seg", String(index + 1));
    button.type = "button";
    button.dataset.index = String(index);
    button.title = `Segment ${index + 1} · ${clock(segment.start)}–${clock(segment.end)}\n${segment.text}`;
    button.setAttribute("aria-label", `Segment ${index + 1}, ${clock(segment.start)} to ${clock(segment.end)}`);
    track.appendChild(button);
    return button;
  });
  const layout = () => {
    describe();
    byId("timeline").hidden = !(total > 0);
    segments.forEach((segment, index) => {
      segmentButtons[index].style.left = percent(segment.start);
      segmentButtons[index].style.width = percent(segment.end - segment.start);
    });
    const ticks = byId("ticks");
    ticks.replaceChildren();
    if (!(total > 0)) return;
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400];
    const step = steps.find((s) => total / s <= 8) || Math.ceil(total / 8 / 3600) * 3600;
    for (let t = 0; t <= total - step / 3; t += step) {
      const tick = make("span", "", clock(t));
      tick.style.left = percent(t);
      ticks.appendChild(tick);
    }
  };

  // The list: each segment with its description, then its clip captions.
  const clipButtons = [], groupNodes = [], searchable = [];
  for (const group of data.groups) {
    const node = make("section", "group");
    const entry = { node, text: "", items: [] };
    if (group.segment === null) {
      node.appendChild(make("h3", "group-title", segments.length ? "Before the first segment" : "Clip captions"));
    } else {
      const segment = segments[group.segment];
      const head = make("button", "seg-head");
      head.type = "button";
      head.dataset.t = String(segment.start);
      head.dataset.segment = String(group.segment);
      const label = make("span", "seg-label");
      label.append(make("span", "seg-num", `Segment ${group.segment + 1}`));
      label.append(make("span", "seg-time", `${clock(segment.start)} – ${clock(segment.end)}`));
      head.append(label, make("span", segment.text ? "seg-text" : "seg-text blank", segment.text || "(no description)"));
      node.appendChild(head);
      groupNodes[group.segment] = node;
      entry.text = (segment.text || "").toLowerCase();
    }
    if (group.clips.length) {
      const list = make("ol", "clips");
      for (const index of group.clips) {
        const clip = clips[index];
        const item = make("li");
        const button = make("button", "clip");
        button.type = "button";
        button.dataset.t = String(clip.start);
        button.append(make("span", "t", clock(clip.start)), make("span", clip.text ? "x" : "x blank", clip.text || "(empty)"));
        item.appendChild(button);
        list.appendChild(item);
        clipButtons[index] = button;
        entry.items.push({ item, text: (clip.text || "").toLowerCase() });
      }
      node.appendChild(list);
    }
    box.appendChild(node);
    searchable.push(entry);
  }
  if (!data.groups.length) box.appendChild(make("p", "empty", "No segment descriptions or clip captions."));

  // The caption at a time: the latest starting at or before it, if it has not ended.
  const order = (list) => list.map((_, i) => i).sort((a, b) => list[a].start - list[b].start || a - b);
  const clipOrder = order(clips), segmentOrder = order(segments);
  const at = (list, sorted, t) => {
    let low = 0, high = sorted.length - 1, found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (list[sorted[middle]].start <= t + 1e-6) { found = middle; low = middle + 1; } else { high = middle - 1; }
    }
    if (found < 0) return -1;
    const caption = list[sorted[found]];
    const last = found === sorted.length - 1;
    return t < caption.end || (last && t <= caption.end + 1e-6) ? sorted[found] : -1;
  };

  const mark = (node, on) => {
    if (!node) return;
    node.classList.toggle("current", on);
    if (on) node.setAttribute("aria-current", "time"); else node.removeAttribute("aria-current");
  };
  const reveal = (node) => {
    if (!node || node.offsetParent === null) return;
    const inner = node.getBoundingClientRect(), outer = box.getBoundingClientRect();
    if (inner.top < outer.top || inner.bottom > outer.bottom) box.scrollTop += inner.top - outer.top - outer.height / 3;
  };
  let lastUserScroll = -Infinity;
  for (const kind of ["wheel", "touchmove", "keydown"]) box.addEventListener(kind, () => { lastUserScroll = Date.now(); });

  let currentSegment = -1, currentClip = -1;
  const nowPanel = byId("now");
  const show = (t, following) => {
    playhead.style.left = percent(t);
    byId("now-time").textContent = clock(t);
    const segment = at(segments, segmentOrder, t), clip = at(clips, clipOrder, t);
    if (segment !== currentSegment) {
      mark(segmentButtons[currentSegment], false);
      mark(groupNodes[currentSegment], false);
      currentSegment = segment;
      mark(segmentButtons[segment], true);
      mark(groupNodes[segment], true);
      byId("now-label").textContent = segment >= 0 ? `Segment ${segment + 1}` : "";
      byId("now-seg").textContent = segment >= 0 ? segments[segment].text : "";
    }
    if (clip !== currentClip) {
      mark(clipButtons[currentClip], false);
      currentClip = clip;
      mark(clipButtons[clip], true);
      byId("now-clip").textContent = clip >= 0 ? clips[clip].text : "";
    }
    nowPanel.hidden = !(clips.length || segments.length);
    // "auto" (playing) gives way to the user's own scrolling for a few seconds; "seek" (a jump) always follows.
    const recent = following === "auto" && Date.now() - lastUserScroll < 4000;
    if (following && follow.checked && !recent) {
      reveal(clipButtons[currentClip] || (groupNodes[currentSegment] && groupNodes[currentSegment].firstChild));
    }
  };
  const seek = (t) => {
    if (video) video.currentTime = t;
    show(t, false);
  };

  // Clicks: a segment on the timeline (or anywhere on it), a segment heading or a clip caption in the list.
  bar.addEventListener("click", (event) => {
    const button = event.target.closest("button.seg");
    const rect = track.getBoundingClientRect();
    const t = button
      ? segments[Number(button.dataset.index)].start
      : (total * (event.clientX - rect.left)) / rect.width;
    seek(t);
    const group = button ? groupNodes[Number(button.dataset.index)] : null;
    reveal(group ? group.firstChild : clipButtons[currentClip]);
  });
  box.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-t]");
    if (button) seek(Number(button.dataset.t));
  });

  // Keyboard: the arrow keys move between visible captions (up/down) and timeline segments (left/right).
  const step = (buttons, event, forward) => {
    const visible = buttons.filter((button) => button.offsetParent !== null);
    const index = visible.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    visible[Math.min(visible.length - 1, Math.max(0, index + (forward ? 1 : -1)))].focus();
  };
  box.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      step(Array.from(box.querySelectorAll("button")), event, event.key === "ArrowDown");
    }
  });
  track.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") step(segmentButtons, event, event.key === "ArrowRight");
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
    if (event.key === "/" && !typing) { event.preventDefault(); search.focus(); }
  });

  // Search: clip captions containing the text, and segments whose description or clips contain it.
  search.addEventListener("input", () => {
    const query = search.value.trim().toLowerCase();
    let clipMatches = 0, segmentMatches = 0;
    for (const entry of searchable) {
      let any = false;
      for (const { item, text } of entry.items) {
        const match = !query || text.includes(query);
        item.hidden = !match;
        if (match) { any = true; clipMatches += 1; }
      }
      const own = !query || (entry.text && entry.text.includes(query));
      entry.node.hidden = !(own || any);
      if (own && entry.text) segmentMatches += 1;
    }
    byId("count").textContent = query ? `${clipMatches} clips, ${segmentMatches} segments match` : "";
  });

  follow.parentElement.hidden = !video;
  if (video) {
    video.addEventListener("timeupdate", () => show(video.currentTime, video.paused ? false : "auto"));
    video.addEventListener("seeked", () => show(video.currentTime, "seek"));
    video.addEventListener("loadedmetadata", () => {
      if (!captions.duration && Number.isFinite(video.duration) && video.duration > total) {
        total = video.duration;
        layout();
        show(video.currentTime, false);
      }
    });
    const failed = () => {
      byId("video-error").hidden = false;
      video.hidden = true;
      follow.parentElement.hidden = true;
    };
    video.addEventListener("error", failed);
    if (video.error) failed();
  }
  layout();
  show(video ? video.currentTime : 0, false);
  document.body.dataset.ready = "true";
})();
"""
